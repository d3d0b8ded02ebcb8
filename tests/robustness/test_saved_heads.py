"""A final clothing model's saved head: damaged or missing files are named, and the run
treats them as unfinished so the model is trained again."""

import numpy as np
import pytest

from kerasbench.studies.clothing.finals import head_weights_usable, read_head_weights


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated", b"not a zip at all"])
def test_damaged_head_weights_name_the_file_and_the_step(tmp_path, content):
    path = tmp_path / "models" / "abc-head.npz"
    path.parent.mkdir()
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"abc-head\.npz.*clothing\.run"):
        read_head_weights(path)
    assert not head_weights_usable(path)


def test_missing_or_incomplete_head_weights(tmp_path):
    missing = tmp_path / "none-head.npz"
    with pytest.raises(FileNotFoundError, match="none-head.npz"):
        read_head_weights(missing)
    partial = tmp_path / "partial-head.npz"
    np.savez(partial, kernel=np.zeros((3, 2)))  # no bias
    with pytest.raises(ValueError, match="partial-head.npz"):
        read_head_weights(partial)
    good = tmp_path / "good-head.npz"
    np.savez(good, kernel=np.zeros((3, 2)), bias=np.zeros(2))
    assert head_weights_usable(good)
