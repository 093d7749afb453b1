#!/usr/bin/python3
"""The serving benchmark's peer: what a team would otherwise write to serve the same model.

A FastAPI + uvicorn + PyTorch server for the tiny classifier fixture, speaking the same Open Inference
Protocol subset the benchmark sends (JSON tensors, and the binary tensor data extension), so that
`npm run bench serving` compares like with like. The model is the PyTorch module the fixture was exported
from (scripts/make-onnx-fixtures.py), with the weights read back from the fixture's model.onnx, so both
servers compute the same function; the benchmark checks that their answers agree.

Usage: /usr/bin/python3 bench/fastapi-peer.py --model test/fixtures/models/tiny-classifier/model.onnx --port N
Needs Debian's python3-fastapi, python3-uvicorn, python3-torch and python3-onnx. Not a product component.
"""

import argparse
import importlib.util
import json
import os

import numpy as np
import onnx
import torch
import uvicorn
from fastapi import FastAPI, Request, Response
from onnx import numpy_helper
from pydantic import BaseModel

HERE = os.path.dirname(os.path.abspath(__file__))


def load_fixture_module():
    path = os.path.join(HERE, "..", "scripts", "make-onnx-fixtures.py")
    spec = importlib.util.spec_from_file_location("make_onnx_fixtures", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_model(onnx_path):
    fixtures = load_fixture_module()
    model = fixtures.TinyClassifier(len(fixtures.CLASSES))
    weights = {
        init.name: torch.from_numpy(numpy_helper.to_array(init).copy())
        for init in onnx.load(onnx_path).graph.initializer
    }
    # Every parameter must come from the ONNX file: a missing or extra key is an error, not a silent default.
    model.load_state_dict(weights, strict=True)
    model.eval()
    return model


class TensorIn(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list[float] | None = None
    parameters: dict | None = None


class InferIn(BaseModel):
    id: str | None = None
    inputs: list[TensorIn]
    parameters: dict | None = None


def create_app(model):
    app = FastAPI()

    def run(x):
        with torch.inference_mode():
            return model(x).numpy()

    @app.get("/v2/health/live")
    def live():
        return {"live": True}

    @app.post("/v2/models/{name}/infer")
    def infer(name: str, request: InferIn):
        t = request.inputs[0]
        x = torch.tensor(t.data, dtype=torch.float32).reshape(t.shape)
        logits = run(x)
        return {
            "model_name": name,
            "id": request.id or "",
            "outputs": [
                {"name": "logits", "shape": list(logits.shape), "datatype": "FP32", "data": logits.ravel().tolist()}
            ],
        }

    # The binary tensor extension: the JSON head's length in a header, raw little-endian bytes after it.
    @app.post("/v2/models/{name}/infer-binary")
    async def infer_binary(name: str, request: Request):
        body = await request.body()
        n = int(request.headers["inference-header-content-length"])
        head = json.loads(body[:n])
        t = head["inputs"][0]
        x = torch.from_numpy(np.frombuffer(body, dtype="<f4", offset=n).reshape(t["shape"]).copy())
        logits = run(x)
        out = logits.astype("<f4").tobytes()
        answer = json.dumps(
            {
                "model_name": name,
                "id": head.get("id", ""),
                "outputs": [
                    {
                        "name": "logits",
                        "shape": list(logits.shape),
                        "datatype": "FP32",
                        "parameters": {"binary_data_size": len(out)},
                    }
                ],
            }
        ).encode()
        return Response(
            content=answer + out,
            media_type="application/octet-stream",
            headers={"inference-header-content-length": str(len(answer))},
        )

    return app


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (the platform runs 1 per worker)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    app = create_app(load_model(args.model))
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
