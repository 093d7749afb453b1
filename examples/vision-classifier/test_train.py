"""Offline tests of the training example on a tiny data set drawn with PIL (1-2 epochs, a few seconds)."""

import json
import os
import random
import tempfile
import unittest
from unittest import mock

import numpy as np
import torch
from PIL import Image, ImageDraw

import evaluate
import onnx_runner
import train
from data import load_image, normalize
from model import load_checkpoint, model_from_checkpoint

SERVER_ENV = ("MLOPS_API_URL", "MLFLOW_TRACKING_URI", "MLOPS_RUN_ID", "MLFLOW_RUN_ID", "MLOPS_BASE_MODEL")


def draw_dataset(root: str, classes, per_class: int, seed: int, size: int = 32) -> None:
    rng = random.Random(seed)
    for name in classes:
        os.makedirs(os.path.join(root, name))
        for i in range(per_class):
            image = Image.new("RGB", (size, size), tuple(rng.randint(150, 230) for _ in range(3)))
            draw = ImageDraw.Draw(image)
            r = rng.randint(6, 11)
            cx, cy = rng.randint(r + 1, size - r - 2), rng.randint(r + 1, size - r - 2)
            color = tuple(rng.randint(0, 110) for _ in range(3))
            if name == "circle":
                draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=color)
            elif name == "square":
                draw.rectangle([cx - r, cy - r, cx + r, cy + r], fill=color)
            elif name == "triangle":
                draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=color)
            else:  # cross
                w = max(2, r // 3)
                draw.rectangle([cx - r, cy - w, cx + r, cy + w], fill=color)
                draw.rectangle([cx - w, cy - r, cx + w, cy + r], fill=color)
            image.save(os.path.join(root, name, f"{i:04d}.png"))


class TrainingExampleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._env = mock.patch.dict(os.environ, {k: "" for k in SERVER_ENV})
        cls._env.start()
        cls.tmp = tempfile.TemporaryDirectory()
        cls.data = os.path.join(cls.tmp.name, "data")
        draw_dataset(cls.data, ["circle", "square", "triangle"], 40, seed=1)
        cls.v1_out = os.path.join(cls.tmp.name, "v1")
        cls.v1 = train.main(["--data", cls.data, "--epochs", "2", "--width", "8", "--output", cls.v1_out,
                             "--register", "shapes", "--quiet"])

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()
        cls._env.stop()

    def test_writes_the_model_artifact_and_logs_offline(self):
        model_dir = os.path.join(self.v1_out, "model")
        self.assertEqual(sorted(os.listdir(model_dir)), ["checkpoint.pt", "model.json", "model.onnx", "parity"])
        with open(os.path.join(model_dir, "model.json")) as f:
            meta = json.load(f)
        self.assertEqual(meta, {
            "format": "mlops-model/v1", "task": "classification", "framework": "pytorch", "inputName": "input",
            "inputShape": [3, 32, 32],
            "preprocessing": {"resize": [32, 32], "interpolation": "bilinear", "crop": "none",
                              "colorSpace": "RGB", "scale": 0.00392156862745098,
                              "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "layout": "NCHW"},
            "classes": ["circle", "square", "triangle"], "output": {"kind": "logits"},
        })
        with open(os.path.join(self.v1_out, "mlops-run.jsonl")) as f:
            events = [json.loads(line) for line in f]
        val_steps = [e["step"] for e in events if e["event"] == "metric" and e["key"] == "val_accuracy"]
        self.assertEqual(val_steps, [1, 2])
        metric_keys = {e["key"] for e in events if e["event"] == "metric"}
        self.assertTrue({"train_loss", "train_accuracy", "val_loss", "val_accuracy"} <= metric_keys)
        self.assertIn("register_model", [e["event"] for e in events])
        self.assertEqual(events[-1], {**events[-1], "event": "end", "status": "FINISHED"})

    def test_same_images_under_other_names_train_the_same_model(self):
        # A snapshot names files by item id, and two uploads of the same images get other ids: the order
        # training sees must come from the images, not their names.
        import shutil
        renamed = os.path.join(self.tmp.name, "renamed")
        names = random.Random(7).sample(range(10_000), 120)
        k = 0
        for name in sorted(os.listdir(self.data)):
            os.makedirs(os.path.join(renamed, name))
            for f in sorted(os.listdir(os.path.join(self.data, name))):
                shutil.copy(os.path.join(self.data, name, f), os.path.join(renamed, name, f"{names[k]:05d}.png"))
                k += 1
        runs = [train.main(["--data", d, "--val", self.data, "--epochs", "1", "--width", "8", "--no-augment",
                            "--output", os.path.join(self.tmp.name, f"order-{i}"), "--quiet"])
                for i, d in enumerate([self.data, renamed])]
        self.assertEqual(runs[0]["history"][0]["train_loss"], runs[1]["history"][0]["train_loss"])
        self.assertEqual(runs[0]["val_accuracy"], runs[1]["val_accuracy"])

    def test_writes_parity_samples_in_the_forms_users_send(self):
        parity = os.path.join(self.v1_out, "model", "parity")
        files = sorted(os.listdir(parity))
        self.assertEqual([f for f in files if f.endswith(".f32")],
                         ["gray.f32", "original.f32", "photo.f32", "rgba.f32"])
        with Image.open(os.path.join(parity, "gray.png")) as gray, Image.open(os.path.join(parity, "rgba.png")) as rgba:
            self.assertEqual((gray.mode, gray.size), ("L", (28, 28)))
            self.assertEqual(rgba.mode, "RGBA")
            self.assertNotEqual(rgba.size, (32, 32))
        tensor = np.fromfile(os.path.join(parity, "gray.f32"), dtype="<f4").reshape(3, 32, 32)
        expected = normalize(torch.from_numpy(np.array(load_image(os.path.join(parity, "gray.png"), [32, 32])))
                             .permute(2, 0, 1).unsqueeze(0))[0].numpy()
        np.testing.assert_array_equal(tensor, expected)

    def test_weights_written_next_to_the_graph_are_folded_into_one_file(self):
        # Newer PyTorch exporters write model.onnx + model.onnx.data; the platform serves model.onnx alone.
        import onnx

        from export import inline_external_data

        with tempfile.TemporaryDirectory() as tmp:
            single = os.path.join(self.v1_out, "model", "model.onnx")
            split = os.path.join(tmp, "model.onnx")
            onnx.save_model(onnx.load(single), split, save_as_external_data=True, all_tensors_to_one_file=True,
                            location="model.onnx.data", size_threshold=0)
            self.assertEqual(sorted(os.listdir(tmp)), ["model.onnx", "model.onnx.data"])
            inline_external_data(split)
            self.assertEqual(os.listdir(tmp), ["model.onnx"])
            batch = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
            np.testing.assert_allclose(onnx_runner.load(split)(batch), onnx_runner.load(single)(batch), atol=1e-6)

    def test_onnx_output_matches_torch_for_any_batch_size(self):
        model_dir = os.path.join(self.v1_out, "model")
        model = model_from_checkpoint(load_checkpoint(os.path.join(model_dir, "checkpoint.pt"))).eval()
        run = onnx_runner.load(os.path.join(model_dir, "model.onnx"))
        for batch in (1, 5):
            x = torch.randn(batch, 3, 32, 32)
            with torch.no_grad():
                expected = model(x).numpy()
            np.testing.assert_allclose(run(x.numpy()), expected, atol=1e-4)

    def test_evaluate_reports_accuracy_and_per_class_support(self):
        result = evaluate.evaluate_model(os.path.join(self.v1_out, "model"), self.data)
        self.assertEqual(result["count"], 120)
        self.assertEqual({k: v["support"] for k, v in result["per_class"].items()},
                         {"circle": 40, "square": 40, "triangle": 40})
        torch_result = evaluate.evaluate_model(os.path.join(self.v1_out, "model"), self.data, backend="torch")
        self.assertAlmostEqual(result["accuracy"], torch_result["accuracy"], places=6)

    def test_finetune_with_a_changed_class_set_recreates_the_head_and_keeps_the_backbone(self):
        data = os.path.join(self.tmp.name, "two-classes")
        draw_dataset(data, ["circle", "cross"], 30, seed=2)
        out = os.path.join(self.tmp.name, "v2")
        summary = train.main(["--data", data, "--epochs", "1", "--width", "8", "--output", out, "--quiet",
                              "--init-from", self.v1["model_dir"], "--freeze-backbone-epochs", "1"])
        self.assertFalse(summary["head_reused"])
        self.assertAlmostEqual(summary["lr"], 3e-3 / 3)
        v1 = load_checkpoint(os.path.join(self.v1["model_dir"], "checkpoint.pt"))
        v2 = load_checkpoint(os.path.join(out, "model", "checkpoint.pt"))
        self.assertEqual(v2["classes"], ["circle", "cross"])
        self.assertEqual(tuple(v2["state_dict"]["head.weight"].shape), (2, 32))
        for key, value in v1["state_dict"].items():
            if key.startswith("backbone."):  # frozen for the only epoch: unchanged, BN statistics included
                self.assertTrue(torch.equal(value, v2["state_dict"][key]), key)

    def test_finetune_with_the_same_classes_keeps_the_head(self):
        out = os.path.join(self.tmp.name, "v1b")
        summary = train.main(["--data", self.data, "--epochs", "1", "--width", "8", "--output", out, "--quiet",
                              "--init-from", self.v1_out, "--finetune-lr", "0.0005"])
        self.assertTrue(summary["head_reused"])
        self.assertEqual(summary["lr"], 0.0005)


class ModernExportTest(unittest.TestCase):
    def test_numpy_runner_runs_what_pytorch_2_11_exports(self):
        # The model PyTorch 2.11 trained and exported on a GPU (opset 18: ReduceMean with axes as an input,
        # Reshape with allowzero), checked against the logits PyTorch computed there.
        fixture = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "fixtures",
                               "models", "torch-2.11-classifier")
        with open(os.path.join(fixture, "expected.json")) as f:
            expected = np.array(json.load(f)["logits"], dtype=np.float32)
        x = (np.sin(np.arange(2 * 3 * 32 * 32)) * 0.5).astype(np.float32).reshape(2, 3, 32, 32)
        actual = onnx_runner.NumpyOnnxModel(os.path.join(fixture, "model.onnx")).run(x)
        np.testing.assert_allclose(actual, expected, atol=1e-5)


if __name__ == "__main__":
    unittest.main()
