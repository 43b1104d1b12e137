"""Tests of the YOLOv2 region loss: assignment, each term, warm-up, padding, gradients and a short fit."""
import keras
import pytest
import numpy as np
import tensorflow as tf

from lmnet.networks.object_detection.lm_fyolo import LMFYolo
from lmnet.networks.object_detection.yolo_loss import YoloLoss, anchor_shape_iou
from tests.conftest import darknet_to_network_layout

IMAGE_SIZE = (64, 64)  # a 2x2 grid of 32-pixel cells
ANCHORS = [[1.0, 1.0], [0.5, 0.5]]
NUM_CLASSES = 3
CHANNELS = 5 + NUM_CLASSES
# centre (25, 50): cell row 1, col 0, offsets (25/32, 50/32 - 1); size (0.9375, 0.625) cells: anchor 0
GT = [10.0, 40.0, 30.0, 20.0, 1.0]
GT_CELL = (1, 0, 0)  # row, col, anchor
CONFIDENT = 20.0


def make_loss(**kwargs):
    """A loss over the 2x2 grid with two anchors and three classes."""
    return YoloLoss(IMAGE_SIZE, ANCHORS, NUM_CLASSES, **kwargs)


def logit(p):
    """Inverse of the sigmoid."""
    return float(np.log(p / (1.0 - p)))


def empty_raw(batch=1):
    """Raw output ``[B, 2, 2, A, 5 + C]`` (Darknet's order, see :func:`flat`) predicting "no object"
    everywhere with anchor-prior boxes."""
    raw = np.zeros((batch, 2, 2, len(ANCHORS), CHANNELS), np.float32)
    raw[..., 4] = -CONFIDENT
    return raw


def encode(raw, box, class_id, position, image=0, anchor=None):
    """Writes the exact raw encoding of pixel ``box`` (x, y, w, h) at ``position`` (row, col, anchor)."""
    row, col, anchor_index = position
    x, y, w, h = box
    anchor_w, anchor_h = ANCHORS[anchor_index if anchor is None else anchor]
    cell_h, cell_w = IMAGE_SIZE[0] / 2, IMAGE_SIZE[1] / 2
    values = raw[image, row, col, anchor_index]
    values[0] = logit((x + w / 2) / cell_w - col)
    values[1] = logit((y + h / 2) / cell_h - row)
    values[2] = np.log(w / cell_w / anchor_w)
    values[3] = np.log(h / cell_h / anchor_h)
    values[4] = CONFIDENT
    values[5:] = -CONFIDENT / 2
    values[5 + int(class_id)] = CONFIDENT / 2
    return raw


def flat(raw):
    """``[B, gh, gw, A, 5 + C]`` in Darknet's order -> the network layout ``[B, gh, gw, A * (C + 5)]``."""
    return tf.constant(darknet_to_network_layout(raw))


def perfect_raw():
    """Raw output that encodes ``GT`` exactly at its responsible prediction."""
    return encode(empty_raw(), GT[:4], GT[4], GT_CELL)


def gt_batch(*rows_per_image, max_boxes=3):
    """``[B, max_boxes, 5]`` ground truths padded with class -1 rows."""
    batch = np.zeros((len(rows_per_image), max_boxes, 5), np.float32)
    batch[..., 4] = -1
    for image, rows in enumerate(rows_per_image):
        for index, row in enumerate(rows):
            batch[image, index] = row
    return tf.constant(batch)


def terms(loss, gt_boxes, raw, step=None):
    """The loss terms as floats (batch means)."""
    return {name: float(tf.reduce_mean(value)) for name, value in loss.terms(gt_boxes, flat(raw), step).items()}


# decoding and assignment -----------------------------------------------------------------------------------

def test_the_channel_layout_decodes_to_the_documented_box():
    prediction = make_loss().decode(flat(perfect_raw()))
    np.testing.assert_allclose(prediction.boxes.numpy()[(0, *GT_CELL)], GT[:4], rtol=1e-5)
    assert prediction.class_logits.shape[-1] == NUM_CLASSES
    assert int(np.argmax(prediction.class_logits.numpy()[(0, *GT_CELL)])) == 1


def test_anchor_shape_iou_compares_centred_shapes():
    iou = anchor_shape_iou(tf.constant([0.9375]), tf.constant([0.625]), tf.constant(ANCHORS)).numpy()[0]
    np.testing.assert_allclose(iou, [0.9375 * 0.625, 0.25 / (0.9375 * 0.625)], rtol=1e-6)


def test_targets_of_the_responsible_prediction():
    targets = make_loss().build_targets(gt_batch([GT]), tf.constant([2, 2]))
    mask = targets.mask.numpy()
    assert mask.sum() == 1 and mask[(0, *GT_CELL)] == 1
    np.testing.assert_allclose(targets.offsets.numpy()[(0, *GT_CELL)], [25 / 32, 50 / 32 - 1], rtol=1e-6)
    np.testing.assert_allclose(targets.log_sizes.numpy()[(0, *GT_CELL)], np.log([0.9375, 0.625]), rtol=1e-6)
    np.testing.assert_allclose(targets.coordinate_weights.numpy()[(0, *GT_CELL)], 2 - 30 * 20 / 64 ** 2, rtol=1e-6)
    assert targets.class_ids.numpy()[(0, *GT_CELL)] == 1


def test_a_later_box_on_the_same_cell_and_anchor_wins():
    other = [8.0, 40.0, 34.0, 22.0, 2.0]  # same cell, same anchor
    targets = make_loss().build_targets(gt_batch([GT, other]), tf.constant([2, 2]))
    assert targets.mask.numpy().sum() == 1
    assert targets.class_ids.numpy()[(0, *GT_CELL)] == 2
    np.testing.assert_allclose(targets.boxes.numpy()[(0, *GT_CELL)], other[:4])


def test_a_centre_on_the_far_edge_goes_to_the_last_cell():
    targets = make_loss().build_targets(gt_batch([[40.0, 40.0, 48.0, 48.0, 0.0]]), tf.constant([2, 2]))
    assert targets.mask.numpy()[0, 1, 1].sum() == 1


# loss terms ------------------------------------------------------------------------------------------------

def test_a_perfect_output_costs_almost_nothing():
    values = terms(make_loss(), gt_batch([GT]), perfect_raw())
    assert values["coordinate"] < 1e-8
    assert values["class"] < 1e-6
    assert values["object"] < 1e-6
    assert values["no_object"] < 1e-6
    assert values["prior"] == 0.0


def test_each_term_is_scaled_by_its_weight():
    raw = perfect_raw()
    raw[(0, *GT_CELL)][0] += 1.0  # coordinate error
    raw[(0, *GT_CELL)][5:] = 0.0  # uniform classes: cross-entropy log(3)
    base = terms(make_loss(), gt_batch([GT]), raw)
    scaled = terms(make_loss(coordinate_scale=3.0, class_scale=2.0), gt_batch([GT]), raw)
    assert base["coordinate"] > 0.01
    np.testing.assert_allclose(scaled["coordinate"], 3 * base["coordinate"], rtol=1e-5)
    np.testing.assert_allclose(base["class"], np.log(3), rtol=1e-5)
    np.testing.assert_allclose(scaled["class"], 2 * np.log(3), rtol=1e-5)


def test_the_coordinate_term_matches_the_formula():
    raw = perfect_raw()
    raw[(0, *GT_CELL)][0] = 0.0  # sigmoid 0.5 instead of 25/32
    raw[(0, *GT_CELL)][2] = 0.0  # log size 0 instead of log(0.9375)
    expected = (2 - 600 / 4096) * ((0.5 - 25 / 32) ** 2 + np.log(0.9375) ** 2)
    values = terms(make_loss(rescore=False), gt_batch([GT]), raw)
    np.testing.assert_allclose(values["coordinate"], expected, rtol=1e-5)
    no_size_weight = terms(make_loss(size_weighting=False), gt_batch([GT]), raw)
    np.testing.assert_allclose(no_size_weight["coordinate"], expected / (2 - 600 / 4096), rtol=1e-5)


def test_objectness_target_is_the_iou_or_one():
    raw = perfect_raw()
    raw[(0, *GT_CELL)][2] = np.log(0.9375) + np.log(2.0)  # predicted box twice as wide: IoU 0.5
    raw[(0, *GT_CELL)][4] = 0.0  # objectness 0.5
    np.testing.assert_allclose(terms(make_loss(), gt_batch([GT]), raw)["object"], 5.0 * (0.5 - 0.5) ** 2, atol=1e-6)
    np.testing.assert_allclose(terms(make_loss(rescore=False), gt_batch([GT]), raw)["object"], 5.0 * 0.25,
                               rtol=1e-5)
    np.testing.assert_allclose(terms(make_loss(object_scale=1.0, rescore=False), gt_batch([GT]), raw)["object"],
                               0.25, rtol=1e-5)


def test_no_object_punishes_a_confident_empty_prediction():
    raw = perfect_raw()
    raw[0, 0, 1, 1, 4] = CONFIDENT  # top-right cell, far from the ground truth
    values = terms(make_loss(no_object_scale=2.0), gt_batch([GT]), raw)
    np.testing.assert_allclose(values["no_object"], 2.0, rtol=1e-5)
    assert values["object"] < 1e-6


def test_predictions_overlapping_a_ground_truth_are_exempt():
    raw = encode(perfect_raw(), GT[:4], GT[4], (1, 0, 1))  # the other anchor predicts the same box
    assert terms(make_loss(iou_threshold=0.6), gt_batch([GT]), raw)["no_object"] < 1e-6
    np.testing.assert_allclose(terms(make_loss(iou_threshold=1.0), gt_batch([GT]), raw)["no_object"], 1.0, rtol=1e-5)


def test_the_exemption_needs_an_iou_above_the_threshold():
    raw = perfect_raw()
    shifted = [GT[0], GT[1] + 10.0, GT[2], GT[3]]  # IoU 300 / (2 * 600 - 300) = 1/3 with the ground truth
    raw = encode(raw, shifted, GT[4], (1, 0, 1))
    np.testing.assert_allclose(terms(make_loss(iou_threshold=0.6), gt_batch([GT]), raw)["no_object"], 1.0, rtol=1e-5)
    assert terms(make_loss(iou_threshold=0.1), gt_batch([GT]), raw)["no_object"] < 1e-6


def test_the_prior_term_is_active_only_during_warmup():
    raw = perfect_raw()
    raw[..., 0] += 2.0  # every prediction off its anchor-prior centre; the responsible one too
    loss = make_loss(warmup_steps=10, prior_scale=0.01)
    expected = 7 * 0.01 * (1 / (1 + np.exp(-2.0)) - 0.5) ** 2  # the seven unmatched predictions
    np.testing.assert_allclose(terms(loss, gt_batch([GT]), raw, step=tf.constant(0, tf.int64))["prior"], expected,
                               rtol=1e-5)
    np.testing.assert_allclose(terms(loss, gt_batch([GT]), raw, step=tf.constant(9))["prior"], expected, rtol=1e-5)
    assert terms(loss, gt_batch([GT]), raw, step=tf.constant(10))["prior"] == 0.0
    assert terms(loss, gt_batch([GT]), raw, step=None)["prior"] == 0.0
    assert terms(make_loss(warmup_steps=0), gt_batch([GT]), raw, step=tf.constant(0))["prior"] == 0.0


def test_the_warmup_reads_an_optimizer_step_counter():
    optimizer = keras.optimizers.Adam()
    raw = empty_raw()
    raw[..., 2] = 1.0
    loss = make_loss(warmup_steps=1)
    assert terms(loss, gt_batch([]), raw, step=optimizer.iterations)["prior"] > 0
    optimizer.iterations.assign(1)
    assert terms(loss, gt_batch([]), raw, step=optimizer.iterations)["prior"] == 0


def test_padding_rows_are_ignored():
    loss = make_loss()
    raw = perfect_raw()
    raw[..., 4] = 0.3
    raw[..., 0] = 0.7
    plain = terms(loss, gt_batch([GT], max_boxes=1), raw)
    padded = np.array(gt_batch([GT], max_boxes=4))
    padded[0, 1] = [0.0, 0.0, 64.0, 64.0, -1.0]  # would overlap everything if it counted
    padded[0, 2] = [30.0, 30.0, 0.0, 0.0, -1.0]  # zero size: log(0) if it counted
    padded[0, 3] = [50.0, 10.0, 10.0, 10.0, -1.0]
    with_padding = terms(loss, tf.constant(padded), raw)
    for name, value in plain.items():
        np.testing.assert_allclose(with_padding[name], value, rtol=1e-6, err_msg=name)


def test_an_image_without_ground_truth_costs_only_no_object():
    raw = empty_raw()
    raw[..., 4] = np.linspace(-2, 2, 8).reshape(2, 2, 2)
    raw[..., :4] = 0.5
    values = terms(make_loss(warmup_steps=0), gt_batch([]), raw)
    expected = np.sum((1 / (1 + np.exp(-np.linspace(-2, 2, 8)))) ** 2)
    np.testing.assert_allclose(values["no_object"], expected, rtol=1e-5)
    assert values["coordinate"] == values["object"] == values["class"] == 0.0
    assert np.isfinite(float(make_loss()(gt_batch([], max_boxes=0), flat(raw))))


def test_the_loss_is_the_batch_mean_of_the_image_sums():
    loss = make_loss()
    raw = np.concatenate([perfect_raw(), empty_raw()])
    raw[1, ..., 4] = 1.0
    per_image = loss.terms(gt_batch([GT], []), flat(raw))
    total = sum(value.numpy() for value in per_image.values())
    np.testing.assert_allclose(float(loss(gt_batch([GT], []), flat(raw))), total.mean(), rtol=1e-6)
    assert total[0] < 1e-5 < total[1]


def test_the_loss_traces_with_unknown_box_count():
    loss = make_loss()

    @tf.function(input_signature=[tf.TensorSpec([None, None, 5]), tf.TensorSpec([None, 2, 2, 2 * CHANNELS])])
    def compute(gt_boxes, outputs):
        return loss(gt_boxes, outputs)

    np.testing.assert_allclose(float(compute(gt_batch([GT]), flat(perfect_raw()))), 0.0, atol=1e-5)
    assert float(compute(gt_batch([], []), flat(empty_raw(2)))) < 1e-5


# training ------------------------------------------------------------------------------------------------------

def tiny_detector():
    """LMFYolo at 64x64 with three classes and two anchors, a short warm-up."""
    keras.utils.set_random_seed(1)
    return LMFYolo(["a", "b", "c"], IMAGE_SIZE, anchors=ANCHORS, loss_warmup_steps=10)


def fixed_batch():
    """Two images with one and two boxes."""
    images = np.random.default_rng(0).uniform(0, 1, (2, *IMAGE_SIZE, 3)).astype(np.float32)
    images[0, 40:60, 10:40] = [1.0, 0.0, 0.0]
    images[1, 4:28, 30:60] = [0.0, 1.0, 0.0]
    images[1, 36:60, 2:26] = [0.0, 0.0, 1.0]
    boxes = gt_batch([GT], [[30.0, 4.0, 30.0, 24.0, 0.0], [2.0, 36.0, 24.0, 24.0, 2.0]])
    return tf.constant(images), boxes


def test_gradients_are_finite_and_reach_every_layer():
    network = tiny_detector()
    model = network.training_model
    images, boxes = fixed_batch()
    with tf.GradientTape() as tape:
        loss = network.compute_loss(boxes, model(images, training=True), model)
    gradients = tape.gradient(loss, model.trainable_variables)
    assert all(gradient is not None for gradient in gradients)
    assert all(np.isfinite(gradient.numpy()).all() for gradient in gradients)
    kernels = [g for g, v in zip(gradients, model.trainable_variables) if v.name == "kernel"]
    assert all(np.abs(g.numpy()).sum() > 0 for g in kernels)


def test_a_few_adam_steps_reduce_the_loss():
    network = tiny_detector()
    model = network.training_model
    optimizer = keras.optimizers.Adam(1e-3)
    images, boxes = fixed_batch()

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = network.compute_loss(boxes, model(images, training=True), model, step=optimizer.iterations)
        optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        return loss

    losses = [float(step()) for _ in range(30)]
    assert np.isfinite(losses).all()
    assert losses[-1] < 0.3 * losses[0], losses


# recipe options: CIoU box term, BCE objectness, several anchors per ground truth ---------------------------

def test_ciou_box_term_is_zero_for_a_perfect_box_and_grows_with_the_error():
    loss = make_loss(box_loss="ciou", size_weighting=False)
    assert terms(loss, gt_batch([GT]), perfect_raw())["coordinate"] < 1e-6
    raw = perfect_raw()
    raw[(0, *GT_CELL)][2] += 0.5  # wider box
    wider = terms(loss, gt_batch([GT]), raw)["coordinate"]
    box = loss.decode(flat(raw)).boxes.numpy()[(0, *GT_CELL)]
    from lmnet.boxes import tf_ciou_xywh_aligned
    assert wider == pytest.approx(1 - float(tf_ciou_xywh_aligned([box], [GT[:4]])[0]), rel=1e-5)


def test_bce_objectness_is_the_cross_entropy_of_the_logit():
    loss = make_loss(objectness_loss="bce", rescore=False, object_scale=1.0, no_object_scale=1.0)
    raw = perfect_raw()
    raw[(0, *GT_CELL)][4] = logit(0.8)
    raw[0, 0, 0, 0, 4] = logit(0.3)  # an empty cell, far from the ground truth
    values = terms(loss, gt_batch([GT]), raw)
    assert values["object"] == pytest.approx(-np.log(0.8), rel=1e-5)
    assert values["no_object"] == pytest.approx(-np.log(0.7) + 6 * np.log1p(np.exp(-CONFIDENT)), rel=1e-4)


def test_an_assignment_threshold_adds_every_anchor_that_matches_well_enough():
    box = [10.0, 40.0, 24.0, 24.0, 1.0]  # 0.75 x 0.75 cells: shape IoU 0.5625 with anchor 0, 0.444 with anchor 1
    single = make_loss().build_targets(gt_batch([box]), tf.constant([2, 2])).mask.numpy()
    assert single.sum() == 1 and single[0, 1, 0, 0] == 1
    both = make_loss(assign_iou_threshold=0.4).build_targets(gt_batch([box]), tf.constant([2, 2]))
    assert both.mask.numpy()[0, 1, 0].tolist() == [1, 1]
    np.testing.assert_allclose(both.log_sizes.numpy()[0, 1, 0, 1], np.log([0.75 / 0.5] * 2), rtol=1e-6)
    high = make_loss(assign_iou_threshold=0.6).build_targets(gt_batch([box]), tf.constant([2, 2]))
    assert high.mask.numpy().sum() == 1  # the best anchor is always kept


def test_unknown_loss_choices_are_refused_naming_the_key():
    from lmnet.errors import ConfigError
    with pytest.raises(ConfigError, match="NETWORK.LOSS_BOX: expected one of 'mse', 'ciou', got 'giou'"):
        LMFYolo(["a"], (64, 64), loss_box="giou")


def test_neighbour_cells_add_the_nearest_horizontal_and_vertical_cell_with_offsets_beyond_the_cell():
    # GT's centre (25, 50) lies in the right half of column 0 (25/32 = 0.78) and the top half of row 1
    # (50/32 - 1 = 0.56 is the bottom half): neighbours are column 1 and, below row 1, none (a 2x2 grid).
    loss = make_loss(neighbour_cells=True)
    targets = loss.build_targets(gt_batch([GT]), tf.constant([2, 2]))
    mask = targets.mask.numpy()[0, :, :, 0]
    assert mask.tolist() == [[0, 0], [1, 1]]
    np.testing.assert_allclose(targets.offsets.numpy()[0, 1, 1, 0], [25 / 32 - 1, 50 / 32 - 1], rtol=1e-6)
    upper = [10.0, 20.0, 30.0, 20.0, 1.0]  # centre (25, 30): row 0's bottom half -> row 1 is the neighbour
    mask = loss.build_targets(gt_batch([upper]), tf.constant([2, 2])).mask.numpy()[0, :, :, 0]
    assert mask.tolist() == [[1, 1], [1, 0]]


def test_a_centre_cell_claim_wins_over_another_boxes_neighbour_claim():
    loss = make_loss(neighbour_cells=True)
    right = [25.0, 40.0, 30.0, 20.0, 2.0]  # centre (40, 50): cell (1, 1), its left half -> neighbour (1, 0)
    targets = loss.build_targets(gt_batch([GT, right]), tf.constant([2, 2]))
    assert targets.class_ids.numpy()[0, 1, 0, 0] == 1  # GT's own centre cell, though `right` comes later
    assert targets.class_ids.numpy()[0, 1, 1, 0] == 2  # and the other way round


def test_the_centre_margin_lets_a_decoded_centre_reach_half_a_cell_outside():
    raw = empty_raw()
    raw[0, 0, 0, 0, :2] = [-CONFIDENT, CONFIDENT]
    offsets = make_loss(neighbour_cells=True).decode(flat(raw)).offsets.numpy()[0, 0, 0, 0]
    np.testing.assert_allclose(offsets, [-0.5, 1.5], atol=1e-6)
    assert make_loss().decode(flat(raw)).offsets.numpy()[0, 0, 0, 0].tolist() == pytest.approx([0.0, 1.0], abs=1e-6)
