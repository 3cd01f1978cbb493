"""Two gloo processes on the CPU: gradients at step 1 equal one process on the whole batch.

Why they are equal, not twice as large: every process computes the same loss on the gathered
global batch; the gather's backward sums the gradients of all W copies onto each process's own
rows (W times the single-process gradient of those rows), and DDP's average divides by W, so
each encoder parameter ends with the single-process gradient of the concatenated batch.
"""

from __future__ import annotations

import json

import torch
import torch.multiprocessing as mp
from ddp_step_worker import first_step_gradients, run_rank, trainer_for


def test_two_process_gradients_equal_one_process_on_concatenated_batch(tiny_data, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    out = tmp_path / "run-ddp"
    mp.start_processes(
        run_rank,
        args=(2, str(tmp_path / "init"), str(tiny_data), str(out), str(results)),
        nprocs=2,
        start_method="spawn",
    )
    r0 = torch.load(results / "rank0.pt", weights_only=True)
    r1 = torch.load(results / "rank1.pt", weights_only=True)

    single = trainer_for(tiny_data, tmp_path / "run-single", batch_size=8)
    single.prepare()
    ids, grads = first_step_gradients(single)
    single.close()

    assert len(r0["ids"]) == len(r1["ids"]) == 4
    assert r0["ids"] + r1["ids"] == ids  # the global batch, in rank order
    assert grads.keys() == r0["grads"].keys() == r1["grads"].keys()
    assert any(k.startswith("objective.") for k in grads)
    for k, g in grads.items():
        assert g.abs().sum() > 0, k
        torch.testing.assert_close(r0["grads"][k], g, rtol=1e-4, atol=1e-6, msg=k)
        torch.testing.assert_close(r1["grads"][k], g, rtol=1e-4, atol=1e-6, msg=k)

    # the full epoch ran under DDP; rank 0 alone wrote the run folder
    rows = [json.loads(r) for r in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1]
    info = json.loads((out / "run.json").read_text())
    assert info["world_size"] == 2 and info["status"] == "finished"
    assert (out / "model.pt").is_file()
    assert not list(out.glob(".fitted-*"))
