"""Compilation jobs: compile time through trainplane vs the compiler directly, compiled inference vs
ONNX Runtime on the uncompiled model, and StopCompilationJob -> STOPPED.

1. The example's digits MLP (ONNX, 64-64-10) compiled for ml_c5 with Apache TVM: CreateCompilationJob ->
   COMPLETED seen (10 ms Describe poll), against FLOOR: a fresh Python process making the same TVM
   calls (import, from_onnx, tvm.compile, export_library) -> exit, interleaved.
   Bar: p50 <= floor p50 x 1.1 + 100 ms.
2. Inference of the compiled artifact (trainplane.runtime.compiled) vs ONNX Runtime on the uncompiled
   model, one thread each, batch 1 and 256: the ratio, whichever wins.
3. StopCompilationJob -> STOPPED for a compiler process that is running (a stand-in that compiles until
   stopped: the real one finishes this model in about a second), on server timestamps (stop requested ->
   ended) and as the client sees it; FLOOR: bare Popen of the same script + SIGTERM + waitpid.
   Bar: training's stop bar (p50 <= 15 ms, p99 <= 60 ms on server timestamps).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import harness
import numpy as np
import report

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support import compilable  # the bench shares the tests' model builder

DIRECT_COMPILE = """\
import sys, tvm, onnx
from tvm import relax
from tvm.relax.frontend.onnx import from_onnx
module = from_onnx(onnx.load(sys.argv[1]), keep_params_in_input=True)
module, params = relax.frontend.detach_params(module)
target = {"kind": "llvm", "mcpu": "skylake-avx512", "mtriple": "x86_64-linux-gnu", "num-cores": 1}
tvm.compile(module, target=tvm.target.Target(target)).export_library(sys.argv[2])
"""
SLOW_COMPILER = """\
import os, time
from pathlib import Path
model = next(Path(os.environ.get("SM_CHANNEL_MODEL", ".")).iterdir(), None)
marker = os.environ.get("BENCH_READY") or f"{model.resolve()}.ready"
Path(marker).write_text(str(os.getpid()))
while True:
    time.sleep(0.05)
"""


def compile_request(name: str, model: Path, output: Path) -> dict[str, Any]:
    return {
        "CompilationJobName": name,
        "RoleArn": harness.ROLE_ARN,
        "InputConfig": {"S3Uri": model.as_uri(), "Framework": "ONNX"},
        "OutputConfig": {"S3OutputLocation": output.as_uri(), "TargetDevice": "ml_c5"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 900},
    }


def describe(api: harness.Api, name: str) -> dict[str, Any]:
    return api.call("DescribeCompilationJob", {"CompilationJobName": name})


def wait_compilation(api: harness.Api, name: str, wanted: tuple[str, ...], interval: float) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        doc = describe(api, name)
        if doc["CompilationJobStatus"] in wanted:
            return doc
        time.sleep(interval)
    raise RuntimeError(f"{name} never reached {wanted}")


def compile_trials(work: Path, count: int) -> tuple[list[float], list[float], list[float], str]:
    """(trainplane seconds, direct seconds, launch seconds, a compiled artifact's URI), interleaved."""
    model = compilable.model_tar(work / "model.tar.gz", {"model.onnx": _onnx(work)})
    direct_script = harness.write_script(work, "direct_compile.py", DIRECT_COMPILE)
    through: list[float] = []
    direct: list[float] = []
    launches: list[float] = []
    artifact = ""
    with harness.running_server(work / "data") as server:
        api = server.api()
        _compile_once(api, model, work / "compiled" / "warm-up")  # the fork server's first start: not counted
        for index in range(count):
            name = harness.unique_name("cmp")
            sent = time.time()
            api.call("CreateCompilationJob", compile_request(name, model, work / "compiled" / name))
            # A lazy poll, timed by the server's own CompilationEndTime: a tight poll would take CPU
            # from the compiler on 2 cores, which the floor's process does not have to share.
            doc = wait_compilation(api, name, ("COMPLETED", "FAILED"), 0.1)
            through.append(doc["CompilationEndTime"] - sent)
            launches.append(doc["CompilationStartTime"] - sent)
            if doc["CompilationJobStatus"] != "COMPLETED":
                raise RuntimeError(doc["FailureReason"])
            artifact = doc["ModelArtifacts"]["S3ModelArtifacts"]
            started = time.time()
            subprocess.run(
                [
                    harness.PYTHON,
                    str(direct_script),
                    str(work / "model.onnx"),
                    str(work / f"direct-{index}.so"),
                ],
                check=True,
                stderr=subprocess.DEVNULL,
            )
            direct.append(time.time() - started)
        api.close()
    return through, direct, launches, artifact


def _compile_once(api: harness.Api, model: Path, output: Path) -> None:
    name = harness.unique_name("warm")
    api.call("CreateCompilationJob", compile_request(name, model, output))
    wait_compilation(api, name, ("COMPLETED", "FAILED"), 0.05)


def _onnx(work: Path) -> bytes:
    data = compilable.mlp_onnx_bytes(compilable.mlp_weights(hidden=64))
    (work / "model.onnx").write_bytes(data)
    return data


def inference_trials(artifact: str, onnx_path: Path, rounds: int) -> dict[str, dict[int, list[float]]]:
    """Seconds per predict call, per batch size, for the compiled model and ONNX Runtime."""
    os.environ["TVM_NUM_THREADS"] = "1"  # one thread, as ONNX Runtime is given (read when TVM loads)
    import onnxruntime

    from trainplane.runtime import compiled

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    model = compiled.load(artifact)
    rng = np.random.default_rng(0)
    timings: dict[str, dict[int, list[float]]] = {"compiled": {}, "onnxruntime": {}}
    for batch in (1, 256):
        x = rng.random((batch, 64), dtype=np.float32)
        np.testing.assert_allclose(model.predict(x), session.run(None, {"x": x})[0], atol=1e-4)
        for _ in range(rounds):  # interleaved, so neither gets a quieter machine
            started = time.perf_counter()
            model.predict(x)
            middle = time.perf_counter()
            session.run(None, {"x": x})
            ended = time.perf_counter()
            timings["compiled"].setdefault(batch, []).append(middle - started)
            timings["onnxruntime"].setdefault(batch, []).append(ended - middle)
    return timings


def stop_trials(work: Path, count: int) -> tuple[list[dict[str, float]], list[float]]:
    script = harness.write_script(work, "slow_compiler.py", SLOW_COMPILER)
    images = json.dumps({"trainplane/compiler": {"command": [harness.PYTHON, str(script)]}})
    samples, floor = [], []
    with harness.running_server(work / "stop-data", "--images", images) as server:
        api = server.api()
        for index in range(count):
            samples.append(_stop_one(api, work / f"stop-{index}"))
            floor.append(_floor_stop(script, work / f"floor-{index}.ready"))
        api.close()
    return samples, floor


def _stop_one(api: harness.Api, directory: Path) -> dict[str, float]:
    name = harness.unique_name("stp")
    model = compilable.model_tar(directory / "model.tar.gz", {"model.onnx": b"-"})
    api.call("CreateCompilationJob", compile_request(name, model, directory / "out"))
    harness.wait_for((directory / "model.tar.gz.ready").exists, 60, 0.002)
    sent = time.time()
    api.call("StopCompilationJob", {"CompilationJobName": name})
    returned = time.time()
    doc = wait_compilation(api, name, ("STOPPED", "FAILED"), 0.002)
    seen = time.time()
    details = doc["TrainplaneDetails"]
    return {
        "server": (doc["CompilationEndTime"] - details["StopRequestedTime"]) * 1000,
        "client": (seen - sent) * 1000,
        "returned": (returned - sent) * 1000,
        "stopped": float(doc["CompilationJobStatus"] == "STOPPED"),
    }


def _floor_stop(script: Path, ready: Path) -> float:
    child = subprocess.Popen(
        [harness.PYTHON, str(script)], env={**os.environ, "BENCH_READY": str(ready)}, start_new_session=True
    )
    harness.wait_for(ready.exists, 30, 0.002)
    started = time.time()
    child.send_signal(signal.SIGTERM)
    child.wait(30)
    return (time.time() - started) * 1000


def summarize(
    through: list[float],
    direct: list[float],
    launches: list[float],
    timings: dict[str, dict[int, list[float]]],
    stops: list[dict[str, float]],
    floor: list[float],
) -> report.Result:
    result = report.Result("compilation: compile, infer, stop")
    compiled_row = result.add(
        "CreateCompilationJob -> ended (CompilationEndTime)", [t * 1000 for t in through]
    )
    result.add("  breakdown: compiler process started (CompilationStartTime)", [t * 1000 for t in launches])
    direct_row = result.add("FLOOR: the same TVM calls in a fresh Python process", [t * 1000 for t in direct])
    result.bar(
        "compile overhead: p50 <= floor p50 x 1.1 + 100 ms",
        compiled_row["p50"],
        "<=",
        direct_row["p50"] * 1.1 + 100,
    )
    result.extra["compile_overhead_p50_ms"] = compiled_row["p50"] - direct_row["p50"]
    for batch in (1, 256):
        ours = result.add(
            f"predict, compiled (TVM), batch {batch}", [t * 1000 for t in timings["compiled"][batch]]
        )
        ort = result.add(
            f"predict, ONNX Runtime, uncompiled, batch {batch}",
            [t * 1000 for t in timings["onnxruntime"][batch]],
        )
        result.extra[f"compiled_over_onnxruntime_p50_batch_{batch}"] = ours["p50"] / ort["p50"]
    server_row = result.add("StopCompilationJob -> STOPPED (server timestamps)", [s["server"] for s in stops])
    result.add("StopCompilationJob -> STOPPED seen by the client", [s["client"] for s in stops])
    result.add("  breakdown: stop call returned", [s["returned"] for s in stops])
    result.add("FLOOR: Popen'd script, SIGTERM -> waitpid", floor)
    result.extra["all_stopped"] = all(s["stopped"] for s in stops)
    result.bar("stop p50 <= 15 ms (training's bar)", server_row["p50"], "<=", 15)
    result.bar("stop p99 <= 60 ms (training's bar)", server_row["p99"], "<=", 60)
    result.notes.append(
        "inference: one thread each (TVM_NUM_THREADS=1, ORT intra/inter op 1); ratio < 1: compiled is faster"
    )
    return result


def measure(is_quick: bool) -> report.Result:
    n = report.counts(
        is_quick, {"compiles": 9, "rounds": 2000, "stops": 40}, {"compiles": 3, "rounds": 200, "stops": 5}
    )
    with tempfile.TemporaryDirectory(prefix="bench-compilation-") as tmp:
        work = Path(tmp)
        through, direct, launches, artifact = compile_trials(work, n["compiles"])
        timings = inference_trials(artifact, work / "model.onnx", n["rounds"])
        stops, floor = stop_trials(work, n["stops"])
    return summarize(through, direct, launches, timings, stops, floor)


if __name__ == "__main__":
    arguments = report.parse_args(__doc__ or "")
    report.emit([measure(arguments.quick)], arguments.json)
