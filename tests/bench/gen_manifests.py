#!/usr/bin/env python3
"""Generates N Kubernetes/mesh objects for the `meshdoc check` benchmark.

Objects come in app units of 10 (Deployment, Service, ConfigMap, Secret,
ServiceAccount, NetworkPolicy, DestinationRule, VirtualService,
HorizontalPodAutoscaler, PodDisruptionBudget), 50 apps per namespace, so
selector matching, NetworkPolicy evaluation and host resolution all run at
realistic fan-out. One app in ten carries a defect (a NetworkPolicy without
4143, an unnamed port, a DestinationRule with tls DISABLE under STRICT, a
NATS port not opaque) so the fact paths that produce findings are exercised
too. Usage: gen_manifests.py N > out.yaml
"""
import sys

n = int(sys.argv[1])
out = sys.stdout
w = out.write
apps_per_ns = 50
count = 0
app = 0
ns_done = set()
while count < n:
    ns = f"team-{app // apps_per_ns}"
    if ns not in ns_done:
        ns_done.add(ns)
        w(f"""---
apiVersion: v1
kind: Namespace
metadata:
  name: {ns}
  annotations: {{linkerd.io/inject: enabled}}
  labels: {{istio-injection: enabled}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {{name: default, namespace: {ns}}}
spec: {{mtls: {{mode: STRICT}}}}
""")
        count += 2
    a = f"app-{app}"
    bad = app % 10 == 7
    port = 4222 if bad and app % 20 == 7 else 8080
    pname = "" if bad else "\n    name: http-web"
    tls = "DISABLE" if bad else "ISTIO_MUTUAL"
    np_ports = "- port: 8080" if bad else "- port: 8080\n    - port: 4143"
    w(f"""---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {a}
  namespace: {ns}
  labels: {{app: {a}}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: {a}}}
  template:
    metadata:
      labels: {{app: {a}, version: v1}}
    spec:
      serviceAccountName: {a}
      containers:
      - name: app
        image: registry.example.com/{a}:1.0.{app}
        ports:
        - containerPort: {port}
          name: main
        env:
        - {{name: CONFIG, valueFrom: {{configMapKeyRef: {{name: {a}, key: config}}}}}}
        readinessProbe:
          httpGet: {{path: /ready, port: {port}}}
---
apiVersion: v1
kind: Service
metadata:
  name: {a}
  namespace: {ns}
spec:
  selector: {{app: {a}}}
  ports:
  - port: {port}
    targetPort: main{pname}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: {a}, namespace: {ns}}}
data:
  config: |
    listen: :{port}
    upstream: app-{max(app - 1, 0)}.{ns}.svc.cluster.local
---
apiVersion: v1
kind: Secret
metadata: {{name: {a}-token, namespace: {ns}}}
type: Opaque
data: {{token: c2VjcmV0}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: {a}, namespace: {ns}}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: {a}-ingress, namespace: {ns}}}
spec:
  podSelector:
    matchLabels: {{app: {a}}}
  ingress:
  - from:
    - podSelector: {{matchLabels: {{app: app-{max(app - 1, 0)}}}}}
    ports:
    {np_ports}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: {a}, namespace: {ns}}}
spec:
  host: {a}
  trafficPolicy:
    tls: {{mode: {tls}}}
  subsets:
  - name: v1
    labels: {{version: v1}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: {a}, namespace: {ns}}}
spec:
  hosts: [{a}]
  http:
  - route:
    - destination: {{host: {a}, subset: v1}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: {a}, namespace: {ns}}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: {a}}}
  minReplicas: 2
  maxReplicas: 10
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {{name: {a}, namespace: {ns}}}
spec:
  minAvailable: 1
  selector: {{matchLabels: {{app: {a}}}}}
""")
    count += 10
    app += 1
