#!/usr/bin/env python3
"""Reads gramrl's TensorBoard event files with TensorBoard's own reader (EventAccumulator, the
class behind `tensorboard --logdir`) and compares every scalar with what the writer says it wrote.

Usage: tensorboard_check.py RUN_DIR EXPECTED.jsonl
       tensorboard_check.py RUN_DIR --metrics-jsonl METRICS.jsonl

EXPECTED.jsonl: one {"step", "wall_time", "tag", "value"} per scalar, value null for NaN/inf (as
tests/common/metrics/tensorboard_sample_writer.cc writes it). METRICS.jsonl: a training run's
metrics.jsonl ({"step", "time", <tag>: value, ...} per line), which the trainer writes with the
same step, time and scalars as its TensorBoard file. The tag sets must be equal, and for
every tag the (step, wall_time, value) sequence, in order, exactly (values are float32, as
TensorBoard stores simple_value). Exit 0 and "ok: N scalars" on success, 1 with the differences.
"""
import json
import math
import struct
import sys

from tensorboard.backend.event_processing import event_accumulator


def main():
    if len(sys.argv) != 3 and not (len(sys.argv) == 4 and sys.argv[2] == "--metrics-jsonl"):
        sys.exit(__doc__)
    acc = event_accumulator.EventAccumulator(sys.argv[1], size_guidance={event_accumulator.SCALARS: 0})
    acc.Reload()
    got = {tag: [(e.step, e.wall_time, None if not math.isfinite(e.value) else e.value) for e in acc.Scalars(tag)]
           for tag in acc.Tags()["scalars"]}
    want = {}
    if sys.argv[2] == "--metrics-jsonl":
        def f32(v):  # TensorBoard stores simple_value as a float32
            return None if v is None or not math.isfinite(v) else struct.unpack("f", struct.pack("f", v))[0]

        with open(sys.argv[3], encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                for tag, v in r.items():
                    if tag not in ("step", "time") and (v is None or isinstance(v, (int, float))):
                        want.setdefault(tag, []).append((r["step"], r["time"], f32(v)))
    else:
        with open(sys.argv[2], encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                want.setdefault(r["tag"], []).append((r["step"], r["wall_time"], r["value"]))
    errors = []
    if set(got) != set(want):
        errors.append(f"tags: TensorBoard read {sorted(got)}, the writer wrote {sorted(want)}")
    for tag in sorted(set(got) & set(want)):
        if got[tag] != want[tag]:
            errors.append(f"tag {tag!r}: TensorBoard read {got[tag]}, the writer wrote {want[tag]}")
    if errors:
        print("\n".join(errors))
        sys.exit(1)
    print(f"ok: {sum(len(v) for v in got.values())} scalars of {len(got)} tags read by TensorBoard's EventAccumulator")


if __name__ == "__main__":
    main()
