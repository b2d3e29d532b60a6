"""``facematch compare`` and ``facematch eval`` as a user runs them: a real process, real models."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.model


def facematch(*args: str | Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "facematch.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_compare_match_human_and_json(faces_dir: Path) -> None:
    images = faces_dir / "images"
    human = facematch("compare", images / "obama2.jpg", images / "obama.jpg")
    assert human.returncode == 0, human.stderr
    assert human.stdout.startswith("MATCH")
    assert "threshold" in human.stdout
    as_json = facematch("compare", images / "obama2.jpg", images / "biden.jpg", "--json")
    assert as_json.returncode == 0, as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["match"] is False
    assert 0 <= report["score"] < 0.5
    assert {"similarity", "threshold", "far", "model_version", "selfie", "reference"} <= set(report)
    assert report["selfie"]["quality"]["reasons"] == []


def test_compare_bad_input_is_a_clear_error(faces_dir: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"GIF89a not really")
    result = facematch("compare", junk, faces_dir / "images" / "obama.jpg")
    assert result.returncode == 3
    assert "selfie: UNSUPPORTED_IMAGE_FORMAT" in result.stderr
    group = facematch(
        "compare", faces_dir / "images" / "couple.jpg", faces_dir / "images" / "obama.jpg", "--json"
    )
    assert group.returncode == 3
    assert json.loads(group.stdout)["error"]["code"] == "MULTIPLE_FACES"
    missing = facematch("compare", tmp_path / "nope.jpg", junk)
    assert missing.returncode == 2
    assert "cannot read" in missing.stderr


def test_eval_writes_metrics_plot_and_calibration(faces_dir: Path, tmp_path: Path) -> None:
    with (faces_dir / "pairs.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    subset = [r for r in rows if r["same_person"] == "yes"][:12] + [
        r for r in rows if r["same_person"] == "no"
    ][:30]
    pairs = tmp_path / "pairs.csv"
    with pairs.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["image_a", "image_b", "same_person"])
        writer.writeheader()
        writer.writerows(subset)
        writer.writerow({"image_a": "obama.jpg", "image_b": "couple.jpg", "same_person": "no"})
    out, plot, cal = tmp_path / "m.json", tmp_path / "roc.png", tmp_path / "cal.json"
    result = facematch(
        "eval", pairs, "--root", faces_dir / "images", "--json", out, "--plot", plot, "--calibrate", cal
    )
    assert result.returncode == 0, result.stderr
    assert "images" in result.stderr  # the progress bar
    metrics = json.loads(out.read_text())
    for key in (
        "pairs",
        "images",
        "genuine",
        "impostor",
        "failed_pairs",
        "failure_rate",
        "auc",
        "eer",
        "tar_at_far_0.01",
        "tar_at_far_0.001",
        "threshold_at_far_0.001",
        "images_per_s",
    ):
        assert key in metrics
    assert metrics["pairs"] == len(subset) + 1
    assert metrics["genuine"] == 12
    assert metrics["images"] == len(
        {r[k] for r in subset for k in ("image_a", "image_b")} | {"couple.jpg", "obama.jpg"}
    )
    assert metrics["failed_pairs"] == 0
    assert metrics["auc"] > 0.95
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    calibration = json.loads(cal.read_text())
    assert calibration["operating_points"] == []  # 31 impostor pairs support no standard FAR
    assert len(calibration["knots"]) >= 2


def test_eval_refuses_a_malformed_pairs_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\nx,y\n")
    result = facematch("eval", bad)
    assert result.returncode == 2
    assert "BAD_PAIRS_FILE" in result.stderr
    missing = tmp_path / "missing.csv"
    missing.write_text("image_a,image_b,same_person\nnope.jpg,nada.jpg,yes\n")
    result = facematch("eval", missing)
    assert result.returncode == 2
    assert "IMAGES_NOT_FOUND" in result.stderr
