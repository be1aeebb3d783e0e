"""Stress variant of tests/test_reliability_fuzz.py: >= 10 000 examples with a fresh
random seed (printed, to replay: python tests/_reliability_fuzz.py --seed S ...)."""

from __future__ import annotations

import os
import random

import pytest
import test_reliability_fuzz as F

pytestmark = [pytest.mark.slow, pytest.mark.timeout(7200)]


def test_fuzz_public_api_10k_examples(tmp_path):
    examples = max(10_000, int(os.environ.get("FUZZ_EXAMPLES", "0") or 0))
    seed = int(os.environ.get("FUZZ_SEED") or random.randrange(2**32))
    print(f"\nfuzz seed {seed}, {examples} examples")
    ok, report, proc = F.run_fuzz(tmp_path, examples, seed=seed, timeout=7000)
    lines = proc.stdout.splitlines()
    print("\n".join(line for line in lines if line.startswith("FUZZ OK")))
    print(proc.stdout[-6000:])
    assert ok, f"seed {seed}\n{report}"
