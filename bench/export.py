"""Export / import benchmark: time and size of a whole-processor export at several memory sizes.

    .venv/bin/python bench/export.py [--sizes 1000 10000 100000] [--repeat 3]

For each size, learns that many random patterns (3–12 events of 1–3 symbols from a 1,000-symbol
vocabulary, emotives on every third, fixed seed; as bench/processor.py) into a processor (memory
store: learning is not what is measured, and 100,000 committed learns take long), then measures,
in process:

* export: ``GET /export``'s work — the memory image under the lock, then every NDJSON chunk;
* import: ``PUT /import``'s work — parse and validate the document, then replace the memory of a
  processor on a fresh SQLite store (one transaction, committed) and rebuild its index.

Prints the median of ``--repeat`` runs, the document size, and checks that the imported
processor exports the same bytes.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from processor import SEED, random_patterns
from rich.console import Console
from rich.table import Table

from kato.processor import KatoProcessor, Observation, ProcessorConfig, open_store
from kato.processor.portability import export_chunks, read_chunks
from kato.processor.store.memory import MemoryStore

MIB = 2**20
CHUNK = 256 * 1024


def trained(count: int) -> KatoProcessor:
    rng = random.Random(SEED)
    processor = KatoProcessor(ProcessorConfig(processor_id="bench-source"), MemoryStore())
    processor.update_genes({"predict": False})  # learning speed is not what is measured
    for index, pattern in enumerate(random_patterns(rng, count)):
        emotives = {"utility": rng.uniform(-1, 1)} if index % 3 == 0 else {}
        for event in pattern:
            processor.observe(Observation(event, [], emotives, f"b{index}"))
        processor.learn()
    processor.update_genes({"predict": True})
    return processor


def export_document(processor: KatoProcessor) -> tuple[float, bytes]:
    started = time.perf_counter()
    document = b"".join(export_chunks(processor.memory_image(), processor.processor_id))
    return time.perf_counter() - started, document


def import_document(document: bytes, data_dir: Path, run: int) -> tuple[float, KatoProcessor]:
    target_id = f"bench-target-{run}"
    target = KatoProcessor(
        ProcessorConfig(processor_id=target_id), open_store(target_id, data_dir=data_dir)
    )
    started = time.perf_counter()
    image = read_chunks(document[i : i + CHUNK] for i in range(0, len(document), CHUNK))
    target.replace_memory(image)
    return time.perf_counter() - started, target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    table = Table(title="whole-processor export / import (in process, SQLite store)")
    for column in ("patterns", "symbols", "size", "export p50", "import p50", "round trip"):
        table.add_column(column, justify="right")
    for count in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            data_dir = Path(tmp)
            source = trained(count)
            exports, imports, identical = [], [], True
            for run in range(args.repeat):
                seconds, document = export_document(source)
                exports.append(seconds)
                seconds, target = import_document(document, data_dir, run)
                imports.append(seconds)
                # Every record; the header names the exporting processor (so the checksum differs).
                copy = export_document(target)[1]
                identical &= copy.splitlines()[1:-1] == document.splitlines()[1:-1]
                target.close()
            symbols = len(source.memory_image().symbols)
            source.close()
        table.add_row(
            f"{count:,}", f"{symbols:,}", f"{len(document) / MIB:.1f} MiB",
            f"{statistics.median(exports):.2f} s", f"{statistics.median(imports):.2f} s",
            "identical" if identical else "DIFFERENT",
        )
    Console().print(table)
    print(f"(median of {args.repeat} runs each)")


if __name__ == "__main__":
    main()
