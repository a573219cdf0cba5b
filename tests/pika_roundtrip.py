#!/usr/bin/env python3
"""A producer and consumer written with another client (pika) talking to
`qf worker`: publishes a request to <prefix>.requests (routing key run)
with reply_to set to its own exclusive queue and a correlation_id, waits
for the decision there and prints one JSON line:

  {"correlation_id": ..., "message_id": ..., "content_type": ...,
   "decision": {...}}

  pika_roundtrip.py AMQP_URL PREFIX MESSAGE_ID CORRELATION_ID BODY [TIMEOUT_S]
  pika_roundtrip.py --count AMQP_URL QUEUE   (prints the ready count, or -1)

Exit 0 on success, 1 when no decision came in time.
"""
import json
import sys
import time

import pika


def count(url, queue):
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        ch = conn.channel()
        ok = ch.queue_declare(queue=queue, passive=True)
        print(ok.method.message_count)
    except pika.exceptions.ChannelClosedByBroker:
        print(-1)
    finally:
        if conn.is_open:
            conn.close()
    return 0


def roundtrip(url, prefix, message_id, correlation_id, body, timeout_s):
    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    ch.confirm_delivery()
    reply = ch.queue_declare(queue="", exclusive=True).method.queue
    ch.basic_publish(
        exchange=prefix + ".requests",
        routing_key="run",
        body=body.encode("utf-8"),
        properties=pika.BasicProperties(
            content_type="application/json",
            delivery_mode=2,
            message_id=message_id,
            correlation_id=correlation_id,
            reply_to=reply,
        ),
        mandatory=True,
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        method, props, payload = ch.basic_get(queue=reply, auto_ack=True)
        if method is None:
            conn.process_data_events(time_limit=0.2)
            continue
        print(json.dumps({
            "correlation_id": props.correlation_id,
            "message_id": props.message_id,
            "content_type": props.content_type,
            "decision": json.loads(payload.decode("utf-8")),
        }))
        conn.close()
        return 0
    conn.close()
    print("no decision on %s within %d s" % (reply, timeout_s), file=sys.stderr)
    return 1


def main(argv):
    if len(argv) == 4 and argv[1] == "--count":
        return count(argv[2], argv[3])
    if len(argv) not in (6, 7):
        print(__doc__, file=sys.stderr)
        return 64
    timeout_s = int(argv[6]) if len(argv) == 7 else 60
    return roundtrip(argv[1], argv[2], argv[3], argv[4], argv[5], timeout_s)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
