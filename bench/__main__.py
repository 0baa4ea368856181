"""Run the benchmarks, print a table and write the figures as JSON (`make bench`)."""

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from bench.fanout import measure_fanout


def main() -> None:
    """Measure, print and save."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--watchers", type=int, default=10, help="subscribers (default 10)")
    parser.add_argument("--events", type=int, default=200, help="ready events (default 200)")
    parser.add_argument(
        "--output", type=Path, default=Path(".run/bench.json"), help="where to write the JSON"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        fanout = measure_fanout(Path(workdir), watchers=args.watchers, events=args.events)
    figures = fanout.summary()

    print(f"{'workload':<44}{'p50':>10}{'p99':>10}{'max':>10}")
    name = f"fan-out: ready -> {fanout.watchers} watchers printing it"
    print(
        f"{name:<44}{figures['p50_ms']:>8.2f}ms{figures['p99_ms']:>8.2f}ms"
        f"{figures['max_ms']:>8.2f}ms   ({figures['samples']} samples)"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    report = {"when": time.time(), "host": platform.node(), "fanout": figures}
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"figures written to {args.output}")


if __name__ == "__main__":
    main()
