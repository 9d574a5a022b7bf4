#!/usr/bin/env python3
"""Generates N valid meshdoc rules (one file each) for `tests/bench/rules_test.sh`.

Each rule has a unique log pattern with a literal, a status symptom shared
with one rule in a hundred, a unique keyword, a metric signal and, for one
rule in five, an object fact signal; its examples are a firing log line, a
firing keyword, a quiet log line, a quiet bare status (which raises the
hundred others) and, for one rule in five, quiet objects (a Service that
selects no pod: facts for the other rules). `meshdoc rules test` passes on
them: every firing example ranks its own rule first.

    gen_rules.py OUT_DIR N
"""
import os
import sys

out, n = sys.argv[1], int(sys.argv[2])
for mesh in ("linkerd", "istio"):
    os.makedirs(os.path.join(out, mesh), exist_ok=True)

TEMPLATE = """id: {id}
title: Generated cause number {i}
mesh: {mesh}
severity: {severity}
prior: 0.1
tags: [generated]

symptoms:
  status:
    - code: {status}
      weight: 0.2
  keywords: [genkw{i}x]
  question: "Does the log say gentok{i}?"

signals:
  - name: token
    weight: 8
    match: 'gentok{i} failed after \\d+ attempts'
    note: "The generated failure {i}."
  - name: counter
    weight: 3
    metric:
      name: gen_metric_{i}_total
      above: 0
{fact}
docs:
  summary: Generated rule {i} for the rules test benchmark.
  why: Generated rule {i} exists to time `meshdoc rules test` on a large pack.
  confirm:
    - text: "Look for gentok{i} in the log."
      command: "kubectl logs -n {{namespace}} {{pod}} | grep gentok{i}"
  fix:
    - text: "Nothing to fix: generated."
  references:
    - title: "meshdoc tests/bench/rules_test.sh"
      url: https://example.com/meshdoc/bench/{i}

examples:
  - name: the failure line
    input: "2024-05-01T10:00:00Z WARN gentok{i} failed after 3 attempts"
    expect: fire
  - name: the keyword
    input: "genkw{i}x"
    expect: fire
  - name: a healthy line
    input: "2024-05-01T10:00:00Z INFO gentok{i} succeeded"
    expect: quiet
  - name: another cause's status
    input: "{other}"
    expect: quiet
{objects}"""

FACT = """  - name: no-pods
    weight: 2
    corroborates: true
    fact: service-selector-matches-no-pod
"""

OBJECTS = """  - name: a service without pods
    objects: |
      apiVersion: v1
      kind: Service
      metadata:
        name: web-{i}
        namespace: shop
      spec:
        selector: {{app: web-{i}}}
        ports: [{{port: 80}}]
    expect: quiet
"""

for i in range(n):
    mesh = "linkerd" if i % 2 == 0 else "istio"
    rid = f"gen-{mesh}-cause-{i}"
    with open(os.path.join(out, mesh, rid + ".yaml"), "w") as f:
        f.write(TEMPLATE.format(id=rid, i=i, mesh=mesh,
                                severity=("error", "warning", "info")[i % 3],
                                status=400 + i % 100,
                                other=500 + i % 100,
                                fact=FACT if i % 5 == 0 else "",
                                objects=OBJECTS.format(i=i) if i % 5 == 1 else ""))
