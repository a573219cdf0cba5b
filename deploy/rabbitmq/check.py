#!/usr/bin/python3
"""Checks deploy/rabbitmq/ against the message contract and the code.

1. definitions.json is valid JSON in RabbitMQ's definitions format (the keys
   `rabbitmqctl import_definitions` and `load_definitions` read) and holds
   exactly the topology of deploy/asyncapi.yaml: the same exchanges (type,
   durable, auto-delete, vhost), queues (durable, auto-delete, vhost and
   x-arguments) and bindings (source, routing key), and the vhost `/`. The
   AsyncAPI side is read from each channel's `bindings.amqp` (is: routingKey
   -> exchange; is: queue -> queue, x-arguments, x-bindings); the submitter's
   server-named reply queue (empty name) is not part of the static topology.
2. x-delivery-limit equals the default of QF_DELIVERY_LIMIT in
   worker/cmd_worker.c and worker/cmd_approver.c (both declare the queue;
   different arguments make the broker refuse the declaration).
3. rabbitmq.conf: consumer_timeout (ms) is above the longest tool timeout
   (QF_REQUEST_MAX_TIMEOUT_S in include/core/qf/request.h) plus the worker's
   default shutdown grace, and not below the local broker's value in
   deploy/local/services.sh; heartbeat is set; load_definitions points at
   /etc/rabbitmq/definitions.json; the management plugin KEDA reads the
   queue length through is enabled.

Needs python3-yaml. Prints what it checked; exits 1 on any mismatch.
"""
import json
import pathlib
import re
import sys

import yaml

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
problems = []


def problem(msg):
    problems.append(msg)


def asyncapi_topology(doc):
    exchanges, queues, bindings = {}, {}, set()
    for chan_name, chan in (doc.get("channels") or {}).items():
        amqp = ((chan or {}).get("bindings") or {}).get("amqp") or {}
        kind = amqp.get("is")
        if kind == "routingKey":
            ex = amqp.get("exchange") or {}
            entry = (ex.get("type"), bool(ex.get("durable")),
                     bool(ex.get("autoDelete")), ex.get("vhost", "/"))
            if ex.get("name") in exchanges and exchanges[ex["name"]] != entry:
                problem(f"asyncapi.yaml: channel {chan_name} declares exchange "
                        f"{ex['name']} differently from another channel")
            exchanges[ex["name"]] = entry
        elif kind == "queue":
            q = amqp.get("queue") or {}
            if not q.get("name"):  # the submitter's server-named reply queue
                continue
            queues[q["name"]] = (bool(q.get("durable")), bool(q.get("autoDelete")),
                                 q.get("vhost", "/"),
                                 dict(amqp.get("x-arguments") or {}))
            for b in amqp.get("x-bindings") or []:
                bindings.add((b["exchange"], q["name"], b.get("routingKey", ""),
                              q.get("vhost", "/")))
    return exchanges, queues, bindings


def definitions_topology(d):
    for key in ("vhosts", "exchanges", "queues", "bindings"):
        if not isinstance(d.get(key), list):
            problem(f"definitions.json: '{key}' must be a list")
            d[key] = []
    exchanges, queues, bindings = {}, {}, set()
    for e in d["exchanges"]:
        for k in ("name", "vhost", "type", "durable", "auto_delete", "internal", "arguments"):
            if k not in e:
                problem(f"definitions.json: exchange {e.get('name')} lacks '{k}'")
        if e.get("internal"):
            problem(f"definitions.json: exchange {e.get('name')} must not be internal")
        exchanges[e.get("name")] = (e.get("type"), bool(e.get("durable")),
                                    bool(e.get("auto_delete")), e.get("vhost"))
    for q in d["queues"]:
        for k in ("name", "vhost", "durable", "auto_delete", "arguments"):
            if k not in q:
                problem(f"definitions.json: queue {q.get('name')} lacks '{k}'")
        queues[q.get("name")] = (bool(q.get("durable")), bool(q.get("auto_delete")),
                                 q.get("vhost"), dict(q.get("arguments") or {}))
    for b in d["bindings"]:
        for k in ("source", "vhost", "destination", "destination_type", "routing_key", "arguments"):
            if k not in b:
                problem(f"definitions.json: binding {b} lacks '{k}'")
        if b.get("destination_type") != "queue":
            problem(f"definitions.json: binding {b} is not to a queue "
                    "(the contract has no exchange-to-exchange bindings)")
        bindings.add((b.get("source"), b.get("destination"), b.get("routing_key"),
                      b.get("vhost")))
    return exchanges, queues, bindings


def compare(what, want, got):
    for name in sorted(set(want) | set(got), key=str):
        if name not in got:
            problem(f"definitions.json: {what} {name} is in asyncapi.yaml but missing")
        elif name not in want:
            problem(f"definitions.json: {what} {name} is not in asyncapi.yaml")
        elif want[name] != got[name]:
            problem(f"definitions.json: {what} {name}: {got[name]} != asyncapi.yaml {want[name]}")


def c_default(path, var):
    # qf_cli_env_int("worker", "QF_X", default, ...) in worker/cmd_*.c
    m = re.search(r'env_int\((?:"[a-z]+",\s*)?"%s",\s*(\d+)' % var,
                  path.read_text())
    return int(m.group(1)) if m else None


def conf_settings(path):
    out = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            k, _, v = line.partition("=")
            out[k.strip()] = v.strip()
    return out


def main():
    try:
        defs = json.loads((HERE / "definitions.json").read_text())
    except (OSError, json.JSONDecodeError) as e:
        problem(f"definitions.json: not valid JSON: {e}")
        defs = {}
    doc = yaml.safe_load((REPO / "deploy" / "asyncapi.yaml").read_text())

    want_x, want_q, want_b = asyncapi_topology(doc)
    if not want_x or not want_q or not want_b:
        problem("asyncapi.yaml: no topology found (channel bindings.amqp changed shape?)")
    got_x, got_q, got_b = definitions_topology(defs) if defs else ({}, {}, set())
    compare("exchange", want_x, got_x)
    compare("queue", want_q, got_q)
    for b in sorted(want_b - got_b):
        problem(f"definitions.json: binding {b} is in asyncapi.yaml but missing")
    for b in sorted(got_b - want_b):
        problem(f"definitions.json: binding {b} is not in asyncapi.yaml")
    vhosts = {v.get("name") for v in defs.get("vhosts", [])}
    used = {v for (_, _, _, v) in want_x.values()} | {q[2] for q in want_q.values()}
    if vhosts != used:
        problem(f"definitions.json: vhosts {sorted(vhosts)} != used {sorted(used)}")
    print(f"topology: {len(got_x)} exchanges, {len(got_q)} queues, {len(got_b)} "
          f"bindings, vhosts {sorted(vhosts)} match deploy/asyncapi.yaml")

    # 2. x-delivery-limit as the worker and the approver declare it.
    orch = got_q.get("qf.orchestrations")
    limit = orch[3].get("x-delivery-limit") if orch else None
    for src in ("worker/cmd_worker.c", "worker/cmd_approver.c"):
        d = c_default(REPO / src, "QF_DELIVERY_LIMIT")
        if d != limit:
            problem(f"definitions.json: x-delivery-limit {limit} != QF_DELIVERY_LIMIT "
                    f"default {d} in {src}")
    if orch and not isinstance(limit, int):
        problem("definitions.json: x-delivery-limit must be a JSON integer")
    print(f"x-delivery-limit {limit} = QF_DELIVERY_LIMIT default of worker and approver")

    # 3. rabbitmq.conf
    conf = conf_settings(HERE / "rabbitmq.conf")
    m = re.search(r"QF_REQUEST_MAX_TIMEOUT_S\s+(\d+)",
                  (REPO / "include" / "core" / "qf" / "request.h").read_text())
    max_tool_s = int(m.group(1)) if m else 3600
    grace_s = c_default(REPO / "worker" / "cmd_worker.c", "QF_SHUTDOWN_GRACE_S") or 30
    local = re.search(r"consumer_timeout\s*=\s*(\d+)",
                      (REPO / "deploy" / "local" / "services.sh").read_text())
    try:
        ct = int(conf.get("consumer_timeout", ""))
    except ValueError:
        problem("rabbitmq.conf: consumer_timeout is missing or not an integer (ms)")
        ct = 0
    if ct and ct <= (max_tool_s + grace_s) * 1000:
        problem(f"rabbitmq.conf: consumer_timeout {ct} ms must exceed the longest tool "
                f"timeout {max_tool_s} s + grace {grace_s} s")
    if local and ct and ct < int(local.group(1)):
        problem(f"rabbitmq.conf: consumer_timeout {ct} is below the local broker's "
                f"{local.group(1)} (deploy/local/services.sh)")
    if not re.fullmatch(r"\d+", conf.get("heartbeat", "")):
        problem("rabbitmq.conf: heartbeat (seconds) is not set")
    if conf.get("load_definitions") != "/etc/rabbitmq/definitions.json":
        problem("rabbitmq.conf: load_definitions must be /etc/rabbitmq/definitions.json")
    plugins = (HERE / "enabled_plugins").read_text()
    if "rabbitmq_management" not in plugins or not plugins.strip().endswith("]."):
        problem("enabled_plugins: must be an Erlang list term enabling rabbitmq_management")
    print(f"rabbitmq.conf: consumer_timeout {ct} ms > ({max_tool_s} s tool cap + "
          f"{grace_s} s grace), heartbeat {conf.get('heartbeat')} s, load_definitions set")

    for p in problems:
        print("deploy/rabbitmq: " + p, file=sys.stderr)
    if problems:
        print("deploy/rabbitmq: FAILED", file=sys.stderr)
        return 1
    print("deploy/rabbitmq: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
