"""The shipped CNN layer table is what the torchvision architectures give today (needs torchvision)."""
import pytest

pytest.importorskip("torch")
cnn_layers = pytest.importorskip("alpa_serve_like.models.cnn_layers")

from alpa_serve_like.cost_model.cnn_layers import load_layers  # noqa: E402


@pytest.mark.parametrize("model", ["resnet18", "squeezenet1.1"])
def test_extracted_layers_match_the_shipped_table(model):
    try:
        layers = cnn_layers.extract_layers(model)
    except ImportError as exc:
        pytest.skip(str(exc))
    assert layers == load_layers()[model]


def test_unknown_model_is_named():
    with pytest.raises(ValueError, match="unknown CNN 'vgg16'"):
        cnn_layers.build_cnn("vgg16")
