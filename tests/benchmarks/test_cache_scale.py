"""benchmarks.cache_scale: its targets and table from measured records
(the measurements themselves run in the benchmark, not in the suite)."""

from benchmarks import cache_scale


def _records(build_rss_200k=1100.0, killed_before=4):
    r = {}
    for i in range(3):
        r[f"infer_float32_{i}"] = {"seconds": 40.0}
        r[f"infer_bfloat16_{i}"] = {"seconds": 20.0}
        r[f"infer_{i}"] = {"seconds": 50.0 + i, "dtype": "bfloat16"}
        r[f"verify_{i}"] = {"seconds": 5.0}
        r[f"build_w1_{i}"] = {"seconds": 55.0 + i}
        r[f"build_unchecked_{i}"] = {"seconds": 50.0 + i}
        r[f"build_w2_{i}"] = {"seconds": 100.0}
    for i in range(2):
        r[f"kd_{i}"] = {"seconds_per_step": 0.30}
        r[f"alone_{i}"] = {"seconds_per_step": 0.30}
        r[f"pipeline_{i}"] = {"seconds": 2.0}
        r[f"pipeline_plain_{i}"] = {"seconds": 2.0}
    for n, rss in ((1000, 1000.0), (2000, 1050.0), (3000, build_rss_200k)):
        r[f"build_{n}"] = {"peak_rss_mb": rss, "bytes_per_view": 64.0}
        r[f"epoch_{n}"] = {"peak_rss_mb": 1400.0}
    r["build_top5"] = {"bytes_per_view": 34.0}
    r["build_topall"] = {"bytes_per_view": 4000.0}
    shards = [f"shard-{k:05d}.json" for k in range(killed_before)]
    r["killed_shards_before_resume"] = shards
    r["reference"] = {"hashes": ["a"] * 10}
    r["resumed"] = {
        "hashes": ["a"] * 10,
        "built": list(range(killed_before, 10)),
    }
    return r


def _summarize(r):
    targets, figures = cache_scale.summarize(
        r, [1000, 2000, 3000], 500, 1000, 3
    )
    return {t["what"].split(" (")[0]: t for t in targets}, figures


def test_targets_are_paired_by_round_and_checked():
    targets, figures = _summarize(_records())
    w1 = targets["cache build, 1 worker, vs plain teacher inference"]
    # rounds: 50/55, 51/56, 52/57 -> the median ratio is 51/56.
    assert abs(w1["value"] - 51 / 56) < 1e-12 and w1["met"]  # 0.911
    unchecked = targets["cache build, 1 worker, check_files=False"]
    assert unchecked["value"] == 1.0 and unchecked["met"]
    rss = targets["peak RSS of the build, 3,000 vs 1,000 images"]
    assert abs(rss["value"] - 1.1) < 1e-12 and rss["met"]
    assert targets["top-10 bytes per view vs all 1000 logits"]["met"]
    kill = [t for w, t in targets.items() if w.startswith("after a SIGKILL")]
    assert kill[0]["value"] == 1.0
    assert (
        figures["bfloat16 vs float32 teacher inference (paired by round)"]
        == 2.0
    )


def test_misses_are_reported_as_misses():
    targets, _ = _summarize(_records(build_rss_200k=1300.0))
    assert not targets["peak RSS of the build, 3,000 vs 1,000 images"]["met"]
    # A resume that rebuilt a shard it had already: not the claim.
    r = _records()
    r["resumed"]["built"] = list(range(3, 10))
    targets, _ = _summarize(r)
    kill = [t for w, t in targets.items() if w.startswith("after a SIGKILL")]
    assert kill[0]["value"] == 0.0 and not kill[0]["met"]


def test_the_markdown_names_the_machine_and_every_target():
    targets, figures = _summarize(_records())
    text = cache_scale.to_markdown(
        {
            "description": "d",
            "machine": "m",
            "cpu_flags": ["avx2"],
            "date": "today",
            "command": "python -m benchmarks.cache_scale",
            "targets": targets.values(),
            "figures": figures,
        }
    )
    assert "CPU flags avx2" in text
    assert text.count("| yes |") + text.count("| **no** |") == len(targets)
    assert "Command: `python -m benchmarks.cache_scale`" in text
