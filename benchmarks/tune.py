"""The validation searches, declared: one sweep = a list of tagged runs of
`benchmarks.accuracy --tune` under one protocol.

```
python -m benchmarks.tune kd                 # runs the KD sweep
python -m benchmarks.tune kd --dry_run       # prints its commands
python -m benchmarks.tune logit_methods --seeds=0,1,2   # extra flags
python -m benchmarks.tune --list
```

Every run trains on the first 20k training images for 6 epochs and is
scored on the last 10k training images (never the test set), 2 seeds, from
a 4-draw teacher-output cache, at the tuned KD setting (τ 1, α 0.5) unless
a run says otherwise. Each run writes its folder `benchmarks/results/
runs/<tag>/` (one file per seed, skipped when finished), so a sweep resumes
where it stopped; `python -m benchmarks.tune_summary --prefix=<prefix>
--baseline=<tag>` then tables it. Flags after the sweep's name go to every
run (the shell scripts' `"$@"`).
"""

import dataclasses
import shlex
import subprocess
import sys

PROTOCOL = (
    "--tune",
    "--train_limit=20000",
    "--epochs=6",
    "--cache_draws=4",
    "--seeds=0,1",
    "--temperature=1",
    "--kd_weight=0.5",
)


@dataclasses.dataclass(frozen=True)
class Run:
    """One run of a sweep: its tag (the result folder) and its flags."""

    tag: str
    flags: tuple


def _run(tag, *flags):
    return Run(tag, tuple(flags))


def _kd():
    runs = [_run("tune_kd_alone", "--methods=alone")]
    for tau, alpha in (
        ("4", "0.9"),
        ("2", "0.5"),
        ("1", "0.5"),
        ("2", "0.9"),
        ("1", "0.9"),
        ("4", "0.5"),
    ):
        runs.append(
            _run(
                f"tune_kd_t{tau}_a{alpha}",
                "--methods=kd",
                f"--temperature={tau}",
                f"--kd_weight={alpha}",
            )
        )
    return runs


_AMA_STAGES_23 = (
    "--ama_start=stage1_out,stage2_out",
    "--ama_end=stage2_out,stage3_out",
    "--ama_student_layer=stage2_out,stage3_out",
    "--ama_kind=conv",
    "--ama_kernel_size=1",
)

SWEEPS = {
    "kd": _kd(),
    "logit_methods": [
        # DKD at the paper's setting, then at lower temperatures.
        _run(
            "tune_dkd", "--methods=dkd", "--dkd_temperature=4", "--dkd_beta=8"
        ),
        _run("tune_kd_ls", "--methods=kd_ls"),
        _run(
            "tune_dkd_t1",
            "--methods=dkd",
            "--dkd_temperature=1",
            "--dkd_beta=8",
        ),
        _run(
            "tune_dkd_t1_b2",
            "--methods=dkd",
            "--dkd_temperature=1",
            "--dkd_beta=2",
        ),
        _run("tune_kd_ls_paper", "--methods=kd_ls", "--kd_weight=0.989"),
        _run("tune_kd_ls_t1", "--methods=kd_ls", "--ls_temperature=1"),
        _run("tune_kd_ls_t0.5", "--methods=kd_ls", "--ls_temperature=0.5"),
        _run("tune_kd_ls_t4", "--methods=kd_ls", "--ls_temperature=4"),
    ],
    "relational": [
        _run("tune_rkd_kd", "--methods=rkd"),
        _run("tune_sp_kd", "--methods=sp"),
        _run("tune_pkt_kd", "--methods=pkt"),
        _run("tune_crd_kd", "--methods=crd"),
        _run("tune_review_kd", "--methods=review_kd"),
        _run(
            "tune_review_kd_mid8",
            "--methods=review_kd",
            "--review_mid_channels=8",
        ),
    ],
    "ama_speed": [
        _run("tune_ama_default", "--methods=ama"),
        _run("tune_ama_stages23_conv1", "--methods=ama", *_AMA_STAGES_23),
        _run(
            "tune_ama_stages123_conv3",
            "--methods=ama",
            "--ama_start=stem_out,stage1_out,stage2_out",
            "--ama_end=stage1_out,stage2_out,stage3_out",
            "--ama_student_layer=stage1_out,stage2_out,stage3_out",
            "--ama_kind=conv",
        ),
    ],
    "ama_weights": [
        _run("tune_ama_default_map1", "--methods=ama", "--ama_map_weight=1"),
        _run(
            "tune_ama_stages23_conv1_map1",
            "--methods=ama",
            *_AMA_STAGES_23,
            "--ama_map_weight=1",
        ),
    ],
    "ama_cached": [
        _run(
            "tune_ama_cached",
            "--methods=ama_cached",
            "--ama_kernel_size=3",
            "--ama_student_layer=,stage2_out,stage3_out",
        ),
        _run(
            "tune_ama_cached_sep_m3",
            "--methods=ama_cached",
            "--ama_kind=separable",
            "--ama_student_layer=,,stage3_out",
        ),
        _run(
            "tune_ama_cached_conv1_m3",
            "--methods=ama_cached",
            "--ama_kernel_size=1",
            "--ama_student_layer=,,stage3_out",
        ),
    ],
    "ama_cached_weights": [
        _run(
            "tune_ama_cached_map0.3",
            "--methods=ama_cached",
            "--ama_map_weight=0.3",
        ),
        _run(
            "tune_ama_cached_map3", "--methods=ama_cached", "--ama_map_weight=3"
        ),
        _run("tune_ama_cached_gamma0", "--methods=ama_cached", "--ama_gamma=0"),
        _run("tune_ama_cached_gamma5", "--methods=ama_cached", "--ama_gamma=5"),
        _run(
            "tune_ama_cached_warm0",
            "--methods=ama_cached",
            "--ama_warmup_steps=0",
        ),
        _run(
            "tune_ama_cached_warm1000",
            "--methods=ama_cached",
            "--ama_warmup_steps=1000",
        ),
        _run("tune_ama_cached_t2", "--methods=ama_cached", "--temperature=2"),
    ],
}


def commands(sweep, extra=(), python=sys.executable):
    """The argv of each run of `sweep`, in order.

    Raises:
        ValueError: for an unknown sweep, listing the sweeps.
    """
    if sweep not in SWEEPS:
        raise ValueError(
            f"Unknown sweep. Expected one of {sorted(SWEEPS)}. "
            f"Received: sweep={sweep!r}"
        )
    return [
        [
            python,
            "-m",
            "benchmarks.accuracy",
            *PROTOCOL,
            *run.flags,
            f"--tag={run.tag}",
            *extra,
        ]
        for run in SWEEPS[sweep]
    ]


def main(argv):
    """`python -m benchmarks.tune <sweep> [--dry_run] [flags...]`."""
    usage = (
        "usage: python -m benchmarks.tune <sweep> [--dry_run] "
        "[flags for every run]; sweeps: " + ", ".join(sorted(SWEEPS))
    )
    if not argv or argv[0] in ("-h", "--help", "--list"):
        print(usage)
        return 0
    sweep, rest = argv[0], argv[1:]
    dry_run = "--dry_run" in rest
    extra = [a for a in rest if a != "--dry_run"]
    try:
        argvs = commands(sweep, extra)
    except ValueError as error:
        print(f"{error}\n{usage}", file=sys.stderr)
        return 2
    for command in argvs:
        print(shlex.join(command), flush=True)
        if not dry_run:
            subprocess.run(command, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
