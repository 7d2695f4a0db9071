"""Each process's share of a Grain dataset, checked here in one process (shares given by hand).

The two-process run itself is tests/distributed/test_grain_sharding.py.
"""

import jax
import numpy as np
import pytest

from jaxnn.train.grain_input import PADDING, MapReader, check_share, process_share
from jaxnn.train.placement import data_mesh
from jaxnn.train.streams import BatchStream

grain = pytest.importorskip("grain")


def _ids(n, batch):
    """A MapDataset of ``ceil(n / batch)`` batches of row ids: x = ids (N, 1), y = ids."""
    ids = np.arange(n, dtype=np.float32)
    return grain.MapDataset.source(ids).batch(batch).map(lambda b: (b[:, None], b.astype("int32")))


def _first_ids(items):
    return [None if b is PADDING else int(b[1][0]) for b in items]


def test_shares_of_7_elements_are_4_and_4_steps_the_second_ending_in_padding():
    ds = _ids(52, 8)  # 7 batches, starting at rows 0, 8, ..., 48
    first, second = MapReader(ds, (0, 2)), MapReader(ds, (1, 2))
    assert len(first) == len(second) == 4  # ceil(7 / 2)
    assert _first_ids(first) == [0, 16, 32, 48]
    assert _first_ids(second) == [8, 24, 40, None]
    assert len(MapReader(ds)) == 7 and _first_ids(MapReader(ds)) == [0, 8, 16, 24, 32, 40, 48]


def test_a_filtered_element_is_skipped_alone_and_padding_in_a_share():
    ds = _ids(32, 8).filter(lambda b: b[1][0] != 16)  # batch 2 dropped
    assert _first_ids(MapReader(ds)) == [0, 8, 24]
    assert _first_ids(MapReader(ds, (0, 2))) == [0, None]  # the steps stay in line
    assert _first_ids(MapReader(ds, (1, 2))) == [8, 24]


def test_a_share_resumes_at_its_saved_position():
    reader = MapReader(_ids(52, 8), (1, 2))
    next(reader)
    state = reader.get_state()
    assert state == {"next_index": 1}
    again = MapReader(_ids(52, 8), (1, 2))
    again.set_state(state)
    assert _first_ids(again) == [24, 40, None]


def test_a_stream_of_a_share_masks_its_padding_step():
    stream = BatchStream(_ids(52, 8), where="fit", share=(1, 2))
    batches = list(stream.epoch(0))
    assert stream.steps == 4 and len(batches) == 4
    x, y, w, mask = batches[-1]
    assert x.shape == (8, 1) and y.shape == (8,) and w.shape == (8,)
    assert mask.tolist() == [0.0] * 8 and w.tolist() == [0.0] * 8
    assert batches[0][0][:, 0].tolist() == list(range(8, 16))


def test_shares_that_cannot_step_together_are_refused():
    with pytest.raises(ValueError, match="fit: the Grain MapDataset has 1 elements .* for 2 proc"):
        BatchStream(_ids(8, 8), where="fit", share=(0, 2))
    ds = _ids(32, 8).filter(lambda b: b[1][0] != 8)  # process 1's first batch dropped
    with pytest.raises(ValueError, match="first element of process 1's share .* dropped by a"):
        BatchStream(ds, where="fit", share=(1, 2))


def _loader(shard_options):
    sampler = grain.samplers.IndexSampler(4, shard_options=shard_options, num_epochs=1)
    return grain.DataLoader(data_source=list(range(4)), sampler=sampler, worker_count=0)


def test_a_dataloader_must_be_sharded_over_the_processes_with_drop_remainder():
    sharded = grain.sharding.ShardOptions(shard_index=1, shard_count=2, drop_remainder=True)
    check_share(_loader(sharded), (1, 2), where="fit")  # no error
    uneven = grain.sharding.ShardOptions(shard_index=1, shard_count=2, drop_remainder=False)
    with pytest.raises(ValueError, match=r"fit: on 2 processes .* ShardOptions\(shard_index=1, "
                       r"shard_count=2, drop_remainder=False\)"):  # fmt: skip
        check_share(_loader(uneven), (1, 2), where="fit")
    with pytest.raises(ValueError, match=r"Give its IndexSampler shard_options=grain.sharding"):
        check_share(_loader(grain.sharding.NoSharding()), (0, 2), where="fit")


def test_one_process_has_no_share():
    assert process_share(None) is None
    assert process_share(data_mesh(jax.devices()[:1])) is None
