"""A forward listener in a process of its own, for measuring what connections cost it.

``python -m tests.forward_listener [--shared-key KEY]`` prints the port it listens on (on
127.0.0.1), serves until its standard input closes, then prints its counters as JSON. Its
sink only counts events: what is measured is the listener, not a spool.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence

from metronome.logs.events import LogEvent
from metronome.logs.forward import ForwardServer


class CountingSink:
    def __init__(self) -> None:
        self.events = 0

    def accept(self, events: Sequence[LogEvent]) -> None:
        self.events += len(events)


async def serve(shared_key: str | None) -> None:
    server = ForwardServer(CountingSink(), "127.0.0.1", 0, shared_key=shared_key, heartbeat=False)
    await server.start()
    print(server.port, flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the test closes our stdin
    await server.stop(grace=2)
    print(json.dumps(server.counters.snapshot()), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared-key")
    asyncio.run(serve(parser.parse_args().shared_key))


if __name__ == "__main__":
    main()
