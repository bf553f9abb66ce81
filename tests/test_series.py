"""Events in a series over training (kernels/series.py): loss spikes, grokking and the response of
a series to the spikes, on hand-made series whose answer is known, and the checks of their
parameters."""

import numpy as np
import pytest

from pipeline.kernels import relu_complex as rc
from pipeline.kernels import series

GROKKING = {"train_level": 0.99, "tolerance": 0.01, "min_rise": 0.05}


def _decaying_loss_with_jumps(jumps, length=12, factor=3.0):
    """1 / (t + 1), multiplied by ``factor`` at the snapshots ``jumps`` only."""
    loss = 1.0 / (np.arange(length) + 1.0)
    loss[list(jumps)] *= factor
    return loss


def test_two_spikes_are_found_at_the_epochs_they_were_placed():
    loss = _decaying_loss_with_jumps([4, 9])
    np.testing.assert_array_equal(series.loss_spikes(loss, 1.5), [4, 9])
    # a spike at the last snapshot and one right after the first are found too
    np.testing.assert_array_equal(series.loss_spikes(_decaying_loss_with_jumps([1, 11], factor=4.0), 1.5), [1, 11])
    # the ratio is strict: a rise by exactly the factor, or less, is no spike
    exact = np.array([1.0, 2.0, 1.0, 1.4])
    np.testing.assert_array_equal(series.loss_spikes(exact, 2.0), [])
    np.testing.assert_array_equal(series.loss_spikes(exact, 1.99), [1])
    # the old name in kernels/relu_complex is the same function
    np.testing.assert_array_equal(rc.loss_spikes(loss, 1.5), [4, 9])


def test_spike_edge_cases():
    assert len(series.loss_spikes([1.0], 1.5)) == 0  # one recorded step: nothing to rise from
    assert len(series.loss_spikes(np.full(5, 0.3), 1.5)) == 0  # flat
    # a diverged step (NaN) is no spike and makes none; an inf after a finite step is one
    np.testing.assert_array_equal(series.loss_spikes([1.0, np.nan, 5.0, 0.1, np.inf], 1.5), [4])
    assert series.loss_spikes(np.array([1.0, 3.0], dtype=np.float32), 1.5).dtype.kind == "i"


def test_a_curve_that_groks_at_a_known_epoch():
    steps = np.arange(0, 1000, 100)
    train = np.array([0.6, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])  # fits at step 200
    late = np.array([0.6, 0.8, 0.82, 0.83, 0.85, 0.9, 0.95, 0.97, 0.97, 0.97])  # within 0.01 of its best at 700
    told = series.detect_grokking(steps, train, late, **GROKKING)
    assert (told["fit"], told["generalize"], told["fit_step"], told["generalize_step"]) == (2, 7, 200, 700)
    assert told["grokked"] and told["delay_steps"] == 500
    assert told["rise"] == pytest.approx(0.15) and told["test_at_fit"] == pytest.approx(0.82)
    # generalizing as it fits is no grokking, nor is a late rise below min_rise
    together = np.array([0.6, 0.9, 0.97, 0.97, 0.97, 0.97, 0.97, 0.97, 0.97, 0.97])
    assert not series.detect_grokking(steps, train, together, **GROKKING)["grokked"]
    small = np.array([0.6, 0.9, 0.93, 0.93, 0.93, 0.93, 0.93, 0.96, 0.96, 0.96])  # +0.03 at 700
    told = series.detect_grokking(steps, train, small, **GROKKING)
    assert told["generalize_step"] == 700 and not told["grokked"]
    assert series.detect_grokking(steps, train, small, **{**GROKKING, "min_rise": 0.02})["grokked"]
    # the tolerance moves the generalization to the first step within it of the best
    assert series.detect_grokking(steps, train, late, **{**GROKKING, "tolerance": 0.05})["generalize_step"] == 600


def test_grokking_needs_generalization_strictly_after_the_fit_and_a_rise_of_at_least_min_rise():
    steps = np.arange(3)
    train = np.array([0.5, 1.0, 1.0])  # fits at snapshot 1
    # within a tolerance of 0.1 of its best (0.97) already at the fit (0.9): it generalizes there,
    # so the rise of 0.07 after it, though above min_rise, is no grokking
    same = series.detect_grokking(steps, train, [0.5, 0.9, 0.97], train_level=0.99, tolerance=0.1, min_rise=0.05)
    assert same["fit"] == same["generalize"] == 1 and same["rise"] >= 0.05
    assert not same["grokked"]
    # a rise of exactly min_rise counts (numbers exact in binary: 0.5 -> 0.75, min_rise 0.25)
    exact = series.detect_grokking(steps, train, [0.5, 0.5, 0.75], train_level=1.0, tolerance=0.0, min_rise=0.25)
    assert (exact["fit"], exact["generalize"], exact["rise"]) == (1, 2, 0.25)
    assert exact["grokked"]


def test_a_network_that_never_fits_does_not_grok():
    steps = np.arange(5)
    told = series.detect_grokking(steps, np.full(5, 0.9), [0.5, 0.6, 0.9, 0.9, 0.9], **GROKKING)
    assert told["fit"] == -1 and not told["grokked"] and told["generalize_step"] == 2
    assert np.isnan(told["fit_step"]) and np.isnan(told["rise"]) and np.isnan(told["delay_steps"])
    # one recorded step, fitted: it generalizes there too
    one = series.detect_grokking([7], [1.0], [0.8], **GROKKING)
    assert (one["fit_step"], one["generalize_step"], one["grokked"]) == (7, 7, False)


def test_spike_response_compares_spikes_with_the_other_steps():
    loss = np.array([1.0, 0.5, 0.4, 1.0, 0.3, 0.25, 0.8, 0.2])  # spikes at 3 and 6
    measured = np.array([10.0, 9, 8, 12, 11, 10, 15, 14])  # rises exactly there, by 50 %
    found = series.spike_response(loss, measured, 1.5)
    assert found["spikes"] == 2 and found["rise_at_spikes"] == 1.0 and found["rise_elsewhere"] == 0.0
    assert found["change_at_spikes"] == pytest.approx(0.5)
    assert found["change_elsewhere"] == pytest.approx(np.median([-0.1, -1 / 9, -1 / 12, -1 / 11, -1 / 15]))
    assert series.spike_response(loss, 3 * loss + 1, 1.5)["spearman_with_loss"] == pytest.approx(1.0)  # same ranks
    assert series.spike_response(loss, -loss, 1.5)["spearman_with_loss"] == pytest.approx(-1.0)
    # a rank correlation: a monotone but far from linear function of the loss correlates exactly
    curved = np.exp(3 * loss)
    assert abs(np.corrcoef(loss, curved)[0, 1] - 1) > 1e-3  # not linear, so Pearson's would be below 1
    assert series.spike_response(loss, curved, 1.5)["spearman_with_loss"] == pytest.approx(1.0, abs=1e-12)


def test_spike_response_skips_unknown_steps_and_says_nan_without_spikes():
    loss = np.array([1.0, 0.5, 0.4, 1.0, 0.3, 0.25, 0.8, 0.2])
    measured = np.array([10.0, 9, 8, np.nan, 11, 10, 15, 14])  # the item of the first spike failed
    found = series.spike_response(loss, measured, 1.5)
    # only the spike at 6 is known (rise); neither change into nor out of step 3 counts elsewhere
    assert found["spikes"] == 2 and found["rise_at_spikes"] == 1.0 and found["change_at_spikes"] == pytest.approx(0.5)
    assert found["rise_elsewhere"] == 0.0
    assert found["change_elsewhere"] == pytest.approx(np.median([-0.1, -1 / 9, -1 / 11, -1 / 15]))
    quiet = series.spike_response(np.linspace(1, 0.5, 6), np.arange(1.0, 7.0), 1.5)
    assert quiet["spikes"] == 0 and np.isnan(quiet["rise_at_spikes"]) and quiet["rise_elsewhere"] == 1.0
    flat = series.spike_response(np.linspace(1, 0.5, 6), np.ones(6), 1.5)
    assert np.isnan(flat["spearman_with_loss"])  # a constant series has no rank correlation


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: series.loss_spikes(np.ones(3), 1.0), "must exceed 1"),
        (lambda: series.loss_spikes(np.ones(3), np.nan), "must exceed 1"),
        (lambda: series.loss_spikes(np.ones((2, 3)), 1.5), "1-D series"),
        (lambda: series.loss_spikes([], 1.5), "at least one recorded step"),
        (lambda: series.loss_spikes(np.array([True, False]), 1.5), "real numbers"),
        (lambda: series.spike_response(np.ones(4), np.ones(3), 1.5), "one per recorded step"),
        (lambda: series.spike_response(np.ones(4), np.ones(4), 0.5), "must exceed 1"),
        (lambda: series.detect_grokking(np.arange(3), np.ones(3), np.ones(4), **GROKKING), "one per recorded step"),
        (lambda: series.detect_grokking(np.arange(3), np.ones(3), [0.5, np.nan, 1.0], **GROKKING), "test_accuracy must be finite"),
        (lambda: series.detect_grokking(np.arange(3), np.ones(3), np.ones(3), **{**GROKKING, "train_level": 0.0}), "train_level"),
        (lambda: series.detect_grokking(np.arange(3), np.ones(3), np.ones(3), **{**GROKKING, "train_level": 1.5}), "train_level"),
        (lambda: series.detect_grokking(np.arange(3), np.ones(3), np.ones(3), **{**GROKKING, "tolerance": -0.1}), "tolerance"),
        (lambda: series.detect_grokking(np.arange(3), np.ones(3), np.ones(3), **{**GROKKING, "min_rise": np.nan}), "min_rise"),
    ],
)
def test_bad_parameters_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()
