"""Loading and running cloud models: labels, the model input, bad model files, the missing-extra
errors (none of these need TensorFlow), and Teachable Machine / mlCloudDetect ``keras_model.h5``
models that the tests build with TensorFlow."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from astropy.io import fits
from click.testing import CliRunner
from PIL import Image

from node_observatory.clouds import _optional
from node_observatory.clouds.cli import clouds_group
from node_observatory.clouds.imageio import SkyImage, load_colour
from node_observatory.clouds.mlinput import model_input
from node_observatory.clouds.mlmodel import MlDetector, ModelError, cloud_label, load_model, read_labels


def test_labels_in_teachable_machine_layout_or_bare(tmp_path):
    (tmp_path / "a.txt").write_text("0 Clear\n1 Partly Cloudy\n\n2 Overcast\n")
    (tmp_path / "b.txt").write_text("clear\ncloudy\n")
    (tmp_path / "c.txt").write_text("\n \n")
    assert read_labels(tmp_path / "a.txt") == ["Clear", "Partly Cloudy", "Overcast"]
    assert read_labels(tmp_path / "b.txt") == ["clear", "cloudy"]
    with pytest.raises(ModelError, match="no labels"):
        read_labels(tmp_path / "c.txt")
    assert [cloud_label(x) for x in ("Clear", "Partly Cloudy", " OVERCAST ")] == ["clear", "partly", "overcast"]


def test_model_input_crops_the_centre_square_and_scales_to_minus_one_one():
    data = np.zeros((100, 200), np.float32)
    data[:, 50:150] = 255.0                      # the centre square is white, the sides black
    x = model_input(SkyImage(data, 255.0, True), 20, 20, 1)
    assert x.shape == (20, 20, 1) and x.dtype == np.float32
    assert np.allclose(x, 1.0)
    grey = model_input(SkyImage(np.full((64, 64), 1000.0, np.float32), 4000.0, True), 8, 8, 3)
    assert grey.shape == (8, 8, 3) and np.allclose(grey, -0.5)
    colour = np.zeros((64, 64, 3), np.float32)
    colour[..., 0] = 255.0
    mono = model_input(SkyImage(colour, 255.0, True), 8, 8, 1)
    assert np.allclose(mono, 2 * 85.0 / 255 - 1, atol=1e-5)   # the mean of the planes
    with pytest.raises(ValueError, match="1 or 3"):
        model_input(SkyImage(data, 255.0, True), 8, 8, 2)
    big = np.full((700, 900), 51.0, np.float32)      # big enough for the block mean first
    big[:, 450:] = 204.0
    halves = model_input(SkyImage(big, 255.0, True), 16, 16, 1)[..., 0]
    assert np.allclose(halves[:, :7], -0.6, atol=1e-5) and np.allclose(halves[:, 9:], 0.6, atol=1e-5)


def test_load_colour_keeps_planes_and_repeats_mono(tmp_path):
    rgb = np.zeros((40, 50, 3), np.uint8)
    rgb[..., 2] = 200
    Image.fromarray(rgb).save(tmp_path / "blue.png")
    Image.fromarray(np.full((40, 50), 70, np.uint8)).save(tmp_path / "mono.png")
    fits.PrimaryHDU(np.stack([np.full((40, 50), v, np.uint16) for v in (1000, 2000, 3000)])).writeto(tmp_path / "c.fits")
    blue = load_colour(tmp_path / "blue.png")
    assert blue.data.shape == (40, 50, 3) and blue.saturation == 255.0
    assert blue.data[0, 0].tolist() == [0.0, 0.0, 200.0]
    assert load_colour(tmp_path / "mono.png").data[5, 5].tolist() == [70.0, 70.0, 70.0]
    assert load_colour(tmp_path / "c.fits").data[0, 0].tolist() == [1000.0, 2000.0, 3000.0]


def test_bad_model_paths_give_clear_errors(tmp_path):
    with pytest.raises(ModelError, match="no model in this folder"):
        load_model(tmp_path)
    (tmp_path / "model.onnx").write_bytes(b"x")
    with pytest.raises(ModelError, match="not a model file"):
        load_model(tmp_path / "model.onnx")
    (tmp_path / "model.tflite").write_bytes(b"not a flatbuffer at all")
    with pytest.raises(ModelError, match="labels.txt: missing"):
        load_model(tmp_path)
    (tmp_path / "labels.txt").write_text("0 clear\n1 cloudy\n")
    with pytest.raises(ModelError, match="model.tflite: not a LiteRT model"):
        load_model(tmp_path)
    with pytest.raises(ModelError, match="no such model file"):
        load_model(tmp_path / "gone.tflite")


def classify_with_a_garbage_model(folder):
    """``obsy clouds classify --detector ml`` with a .tflite that is not one, on a black frame."""
    (folder / "model.tflite").write_bytes(b"garbage")
    (folder / "labels.txt").write_text("clear\n")
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(folder / "f.png")
    return CliRunner().invoke(clouds_group, ["classify", "--detector", "ml", "--model", str(folder),
                                             str(folder / "f.png")])


def test_classify_with_an_unusable_model_stops_with_the_reason(tmp_path):
    result = classify_with_a_garbage_model(tmp_path)
    assert result.exit_code == 1 and "not a LiteRT model" in result.output
    result = CliRunner().invoke(clouds_group, ["classify", "--detector", "ml", str(tmp_path / "f.png")])
    assert result.exit_code == 1 and "needs --model" in result.output


@pytest.fixture
def no_ml_packages(monkeypatch):
    """Imports of TensorFlow and LiteRT fail, as on a node without the extra (None blocks an import)."""
    for name in ("tensorflow", "ai_edge_litert", "ai_edge_litert.interpreter"):
        monkeypatch.setitem(sys.modules, name, None)


def test_missing_extra_is_named(no_ml_packages, tmp_path):
    with pytest.raises(_optional.MissingExtra, match=r"TensorFlow.*obsy\[ml\]"):
        _optional.keras()
    with pytest.raises(_optional.MissingExtra, match=r"ai-edge-litert.*obsy\[ml\]"):
        _optional.tflite_interpreter()
    result = classify_with_a_garbage_model(tmp_path)
    assert result.exit_code == 1 and "'ml' extra" in result.output


def test_importing_the_commands_does_not_import_tensorflow():
    import subprocess
    code = ("import sys; import node_observatory.clouds.cli, node_observatory.clouds.mlmodel; "
            "print(json.dumps(sorted(m for m in ('tensorflow', 'keras', 'ai_edge_litert') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


@pytest.fixture(scope="module")
def teachable(tmp_path_factory):
    """A Teachable Machine layout: keras_model.h5 (224 x 224 x 3, -1..1) and ``0 Clear`` labels.

    The network is the mean of the red plane times 10 into a softmax: a frame red above mid-grey
    is cloudy, below it clear, and exactly mid-grey is even, which it is only on a -1..1 input.
    """
    from node_observatory.clouds._optional import keras as get_keras

    keras = get_keras()
    folder = tmp_path_factory.mktemp("teachable")
    inputs = keras.Input((224, 224, 3))
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.GlobalAveragePooling2D()(inputs))
    network = keras.Model(inputs, outputs)
    network.layers[-1].set_weights([np.array([[-5.0, 5.0], [0, 0], [0, 0]]), np.zeros(2)])
    network.save(folder / "keras_model.h5")
    (folder / "labels.txt").write_text("0 Clear\n1 Cloudy\n")
    return folder


def _rgb(path, red, green=0, blue=0, size=(300, 200)):
    Image.fromarray(np.full((size[1], size[0], 3), (red, green, blue), np.uint8)).save(path)
    return str(path)


def test_teachable_machine_model_loads_and_sees_colour_at_minus_one_one(teachable, tmp_path):
    detector = MlDetector(load_model(teachable))
    assert detector.model.backend == "keras" and detector.model.channels == 3
    red = detector.classify_file(_rgb(tmp_path / "red.png", 230, 10, 10))
    blue = detector.classify_file(_rgb(tmp_path / "blue.png", 10, 10, 230))
    grey = detector.classify_file(_rgb(tmp_path / "grey.png", 127, 128, 128))
    assert red.label == "cloudy" and blue.label == "clear"
    assert red.probabilities["cloudy"] > 0.98 and blue.probabilities["clear"] > 0.98
    assert abs(grey.probabilities["clear"] - 0.5) < 0.02
    assert 0.075 < grey.cloud_fraction < 0.675 and red.cloud_fraction == pytest.approx(0.675, abs=0.01)
    result = CliRunner().invoke(clouds_group, ["classify", "--json", "--detector", "ml", "--model",
                                               str(teachable / "keras_model.h5"), str(tmp_path / "red.png")])
    assert json.loads(result.stdout)["label"] == "cloudy"
    text = CliRunner().invoke(clouds_group, ["classify", "--detector", "ml", "--model", str(teachable),
                                             str(tmp_path / "blue.png")])
    assert text.stdout.startswith(f"{tmp_path / 'blue.png'}: clear cloud_fraction=0.07 stars=- detector=ml "
                                  "p(clear=1.00, cloudy=0.00)")


def test_wrong_keras_files_and_label_counts_are_clear_errors(teachable, tmp_path):
    (tmp_path / "keras_model.h5").write_bytes(b"not hdf5")
    (tmp_path / "labels.txt").write_text("0 Clear\n1 Cloudy\n")
    with pytest.raises(ModelError, match="keras_model.h5: cannot load as a Keras model"):
        load_model(tmp_path)
    other = tmp_path / "three"
    other.mkdir()
    (other / "keras_model.h5").write_bytes((teachable / "keras_model.h5").read_bytes())
    (other / "labels.txt").write_text("0 Clear\n1 Cloudy\n2 Rain\n")
    with pytest.raises(ModelError, match="2 outputs but labels.txt names 3"):
        load_model(other)


def test_a_keras2_h5_with_groups_in_depthwise_conv_still_loads(tmp_path):
    """Teachable Machine's files come from Keras 2: its DepthwiseConv2D config has ``groups``."""
    import h5py

    from node_observatory.clouds._optional import keras as get_keras

    keras = get_keras()
    inputs = keras.Input((224, 224, 3))
    x = keras.layers.DepthwiseConv2D(3, strides=4, name="dw")(inputs)
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    keras.Model(inputs, outputs).save(tmp_path / "keras_model.h5")
    with h5py.File(tmp_path / "keras_model.h5", "r+") as h5:
        config = json.loads(h5.attrs["model_config"])
        layer = next(layer for layer in config["config"]["layers"] if layer["class_name"] == "DepthwiseConv2D")
        layer["config"]["groups"] = 1
        h5.attrs["model_config"] = json.dumps(config)
    (tmp_path / "labels.txt").write_text("0 Clear\n1 Cloudy\n")
    with pytest.raises(Exception, match="groups"):   # what plain Keras 3 says about such a file
        keras.models.load_model(tmp_path / "keras_model.h5", compile=False)
    detector = MlDetector(load_model(tmp_path))
    assert detector.classify_file(_rgb(tmp_path / "f.png", 40, 40, 40)).label in ("clear", "cloudy")
