"""The benchmark's own logic (no timing is asserted: speed is measured, never tested)."""

from tools import bench


def test_targets_compare_the_course_with_its_import_floor_and_the_browser_latency():
    report = {
        "repeat": 3,
        "notebooks": {"floor": {"median_s": 2.0}, "notebooks": [
            {"name": "01_a.ipynb", "median_s": 3.0, "identical": True},
            {"name": "02_b.ipynb", "median_s": 6.0, "identical": True}]},
        "browser": {"notebooks": {"01_a.ipynb": {"run_all_s": 4.0, "explorers": {
            "Fast": {"latencies": [40.0, 50.0, 60.0, 70.0], "static": []},
            "Slow": {"latencies": [90.0, 300.0], "static": []},
            "Static": {"latencies": [], "static": ["x"]}}}}},
    }
    rows = {r[0]: r for r in bench._targets(report)}
    floor = rows["whole course headless ≤ 2× its import floor (2 × 2.00 s)"]
    assert floor[1] == "9.0 s = 2.25× the floor" and floor[2] == "no"
    assert rows["slider to new picture in the browser ≤ 100 ms p95: Fast"][2] == "yes"
    assert rows["slider to new picture in the browser ≤ 100 ms p95: Slow"][2] == "no"
    assert not any("Static" in k for k in rows)


def test_import_floor_runs_the_course_imports_in_a_fresh_kernel():
    floor = bench.import_floor(1)
    assert floor["errors"] == [] and floor["median_s"] > floor["kernel_start_s"] > 0
    assert "import torch" in bench.FLOOR_IMPORTS and "import nblib" in bench.FLOOR_IMPORTS
