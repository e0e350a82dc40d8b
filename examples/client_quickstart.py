"""A tour of `kato.client` against a running manager (`make run` serves one on 127.0.0.1:8080).

    .venv/bin/python examples/client_quickstart.py [--url http://127.0.0.1:8080] [--api-key K]

It creates a session, teaches it a sequence, reads typed predictions, talks to it over the
WebSocket and directly, then deletes it and prints the lifecycle events the manager recorded.
"""

from __future__ import annotations

import argparse
import os

from kato.client import KatoClient, KatoError


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("KATO_URL", "http://127.0.0.1:8080"))
    parser.add_argument("--api-key", default=os.environ.get("KATO_API_KEY"))
    args = parser.parse_args()

    with KatoClient(args.url, api_key=args.api_key) as kato:
        start = max((e.id for e in kato.events(after=0, follow=False)), default=0)
        with kato.session(user_id="quickstart", genes={"max_predictions": 5}) as s:
            print(f"session {s.session_id} on {s.info.url}")
            for word in ("hello", "big", "world"):
                s.observe(strings=[word], emotives={"joy": 0.5})
            print("learned", s.learn().pattern_name)
            s.observe(strings=["hello"])
            s.observe(strings=["big"])
            for prediction in s.predictions().predictions:
                print(
                    f"  {prediction.name}: future={prediction.future} "
                    f"potential={prediction.potential:.3f}"
                )
            with s.stream() as ws:  # the processor's WebSocket, relayed by the manager
                ws.send("observe", {"strings": ["world"]})
                ws.send("get_stm")
                print("over the WebSocket:", ws.receive().time, ws.receive().stm)
            direct = s.direct()  # the container itself, no manager hop
            print("directly:", direct.status())
            try:
                s.update_genes({"no_such_gene": 1})
            except KatoError as error:
                print(f"refused as expected: {type(error).__name__} {error.code}")
        for event in kato.events(after=start, follow=False):
            print(f"event {event.id} {event.type} status={event.status}")


if __name__ == "__main__":
    main()
