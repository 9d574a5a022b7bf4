//! Building a kube client the way kubectl would: `--kubeconfig`, then
//! `KUBECONFIG` (merged, first file wins), then `~/.kube/config`, then the
//! in-cluster service account; `--context` picks the context and the
//! namespace defaults to the context's.

use kube::config::{KubeConfigOptions, Kubeconfig};
use std::path::PathBuf;

/// Where to find the cluster.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// `--kubeconfig FILE`; wins over `KUBECONFIG`.
    pub kubeconfig: Option<PathBuf>,
    /// `--context NAME`.
    pub context: Option<String>,
    /// `-n/--namespace`; defaults to the context's namespace, then `default`.
    pub namespace: Option<String>,
}

/// Why no client could be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot read kubeconfig {path}: {source}")]
    Kubeconfig {
        path: String,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error("invalid kubeconfig: {0}")]
    Config(#[source] kube::config::KubeconfigError),
    #[error(
        "no kubeconfig found (--kubeconfig, KUBECONFIG, ~/.kube/config) and not running in a cluster: {0}"
    )]
    NoConfig(#[source] kube::config::InClusterError),
    #[error("cannot build the Kubernetes client: {0}")]
    Client(#[source] kube::Error),
}

/// Installs the ring rustls provider once. Several crates in the tree enable
/// rustls, and rustls panics at client construction when it cannot pick a
/// single process-wide provider; an "already installed" error is fine.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Resolves the kube config and the namespace to use.
pub async fn config(opts: &ClientOptions) -> Result<(kube::Config, String), ClientError> {
    let kc_opts = KubeConfigOptions {
        context: opts.context.clone(),
        cluster: None,
        user: None,
    };
    let kubeconfig = match &opts.kubeconfig {
        Some(p) => Some(
            Kubeconfig::read_from(p).map_err(|source| ClientError::Kubeconfig {
                path: p.display().to_string(),
                source,
            })?,
        ),
        None => read_default()?,
    };
    let mut cfg = match kubeconfig {
        Some(kc) => kube::Config::from_custom_kubeconfig(kc, &kc_opts)
            .await
            .map_err(ClientError::Config)?,
        None => kube::Config::incluster().map_err(ClientError::NoConfig)?,
    };
    // kube's default retry layer retries 503/504 up to 15 times with
    // exponential backoff; a failed pod proxy answers 503, and the retries
    // would eat the whole --timeout. A diagnosis wants the failure, fast.
    cfg.default_retry = false;
    let ns = opts
        .namespace
        .clone()
        .unwrap_or_else(|| cfg.default_namespace.clone());
    Ok((cfg, ns))
}

/// `KUBECONFIG` (merged) or `~/.kube/config`; `None` when neither exists, so
/// the caller falls back to the in-cluster config like client-go does.
fn read_default() -> Result<Option<Kubeconfig>, ClientError> {
    let env_set = std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty());
    if env_set {
        return Kubeconfig::from_env().map_err(|source| ClientError::Kubeconfig {
            path: "$KUBECONFIG".into(),
            source,
        });
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    match home.map(|h| h.join(".kube").join("config")) {
        Some(p) if p.is_file() => {
            Kubeconfig::read_from(&p)
                .map(Some)
                .map_err(|source| ClientError::Kubeconfig {
                    path: p.display().to_string(),
                    source,
                })
        }
        _ => Ok(None),
    }
}

/// Builds the client (after installing the crypto provider).
pub async fn connect(opts: &ClientOptions) -> Result<(kube::Client, String, String), ClientError> {
    install_crypto_provider();
    let (cfg, ns) = config(opts).await?;
    let server = cfg.cluster_url.to_string();
    let client = kube::Client::try_from(cfg).map_err(ClientError::Client)?;
    Ok((client, ns, server))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KC: &str = r#"
apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: {server: "http://127.0.0.1:1"}
- name: b
  cluster: {server: "http://127.0.0.1:2"}
users:
- name: u
  user: {}
contexts:
- name: ctx-a
  context: {cluster: a, user: u, namespace: shop}
- name: ctx-b
  context: {cluster: b, user: u}
current-context: ctx-a
"#;

    fn write(dir: &std::path::Path) -> PathBuf {
        let p = dir.join("kc");
        std::fs::write(&p, KC).unwrap();
        p
    }

    #[tokio::test]
    async fn the_namespace_defaults_to_the_current_contexts_and_context_switches_cluster() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path());
        let (cfg, ns) = config(&ClientOptions {
            kubeconfig: Some(p.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
        assert_eq!(ns, "shop");
        assert_eq!(cfg.cluster_url.port_u16(), Some(1));
        assert!(!cfg.default_retry);
        let (cfg, ns) = config(&ClientOptions {
            kubeconfig: Some(p),
            context: Some("ctx-b".into()),
            namespace: None,
        })
        .await
        .unwrap();
        assert_eq!(ns, "default");
        assert_eq!(cfg.cluster_url.port_u16(), Some(2));
    }

    #[tokio::test]
    async fn an_unknown_context_is_an_error_not_a_panic() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path());
        let r = config(&ClientOptions {
            kubeconfig: Some(p),
            context: Some("nope".into()),
            namespace: Some("x".into()),
        })
        .await;
        assert!(r.is_err());
    }
}
