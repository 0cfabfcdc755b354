import numpy as np

from pointrend.data import (
    CITYSCAPES_CLASSES,
    CITYSCAPES_PALETTE,
    IGNORE_INDEX,
    LABEL_ID_TO_TRAIN_ID,
    TRAIN_ID_TO_LABEL_ID,
    colorize_train_ids,
    label_ids_to_train_ids,
    train_ids_to_label_ids,
)


def test_nineteen_official_classes_in_train_id_order():
    assert len(CITYSCAPES_CLASSES) == 19 == len(CITYSCAPES_PALETTE)
    assert CITYSCAPES_CLASSES[:3] == ("road", "sidewalk", "building")
    assert CITYSCAPES_CLASSES[10] == "sky" and CITYSCAPES_CLASSES[18] == "bicycle"
    assert CITYSCAPES_PALETTE[0] == (128, 64, 128) and CITYSCAPES_PALETTE[13] == (0, 0, 142)


def test_label_id_table_covers_all_34_ids_and_maps_the_rest_to_ignore():
    assert sorted(LABEL_ID_TO_TRAIN_ID) == list(range(34))
    evaluated = {
        label_id: train_id for label_id, train_id in LABEL_ID_TO_TRAIN_ID.items() if train_id != 255
    }
    assert sorted(evaluated.values()) == list(range(19))
    assert evaluated[7] == 0 and evaluated[26] == 13 and evaluated[33] == 18
    for not_evaluated in (0, 1, 6, 9, 10, 14, 15, 16, 18, 29, 30):
        assert LABEL_ID_TO_TRAIN_ID[not_evaluated] == IGNORE_INDEX
    assert TRAIN_ID_TO_LABEL_ID == {train_id: label_id for label_id, train_id in evaluated.items()}


def test_lookup_maps_license_plate_and_unknown_ids_to_ignore():
    label_ids = np.array(
        [[7, 26, 255], [34, 200, 33]], dtype=np.uint8
    )  # 255 is the license plate's -1 as uint8
    np.testing.assert_array_equal(label_ids_to_train_ids(label_ids), [[0, 13, 255], [255, 255, 18]])


def test_train_ids_round_trip_to_label_ids():
    train_ids = np.array([0, 5, 18, 255], dtype=np.uint8)
    np.testing.assert_array_equal(train_ids_to_label_ids(train_ids), [7, 17, 33, 0])
    np.testing.assert_array_equal(
        label_ids_to_train_ids(train_ids_to_label_ids(train_ids)), train_ids
    )


def test_colorize_uses_palette_and_ignore_colour():
    colours = colorize_train_ids(np.array([[0, 255]], dtype=np.uint8), ignore_color=(1, 2, 3))
    np.testing.assert_array_equal(colours, [[[128, 64, 128], [1, 2, 3]]])
