"""The workarounds of pointrend/train/hapi.py lean on private parts and habits of the installed
Paddle. Each test checks one of them, so an upgrade that changes one fails here, naming it,
instead of somewhere in a training run."""

import inspect
import warnings

import numpy as np
import paddle
import pytest
from paddle.callbacks import Callback, LRScheduler
from paddle.hapi.callbacks import config_callbacks

from pointrend.train.hapi import (
    COPY_CONSTRUCT_NOTICE,
    UNUSED_STATE_NOTICE,
    WRITTEN_FOR_PADDLE,
    GroupedMomentum,
    HapiModel,
    ScheduleClock,
    load_optimizer_state,
)
from pointrend.train.optim import poly_with_warmup, split_decay_groups

INSTALLED = ".".join(paddle.__version__.split(".")[:2])
RECHECK = (
    f"the hapi workarounds in pointrend/train/hapi.py were written for Paddle "
    f"{WRITTEN_FOR_PADDLE}; re-check them for {paddle.__version__}"
)
AMP = {"level": "O1", "use_dynamic_loss_scaling": True, "init_loss_scaling": 1024.0}


class Samples(paddle.io.Dataset):
    """Input i is [i+1, -(i+1)], its target [1]."""

    def __len__(self):
        return 4

    def __getitem__(self, index):
        return np.array([index + 1.0, -(index + 1.0)], "float32"), np.ones(1, "float32")


def squared_error(output, target):
    return ((output - target) ** 2).mean()


def network():
    paddle.seed(0)
    return paddle.nn.Linear(2, 1)


def sgd(net, optimizer=GroupedMomentum):
    """Plain SGD (momentum 0, no decay) over parameter groups, as the Trainer builds them."""
    groups = split_decay_groups(net, 0.0, decay_norm_and_bias=False)
    return optimizer(learning_rate=1.0, momentum=0.0, parameters=groups, weight_decay=0.0)


def summed_gradients(net, indices):
    """The gradients of `squared_error` summed over single samples `indices`, by name."""
    total = {name: np.zeros(p.shape, "float32") for name, p in net.named_parameters()}
    for index in indices:
        x, y = (paddle.to_tensor(a[None]) for a in Samples()[index])
        squared_error(net(x), y).backward()
        for name, parameter in net.named_parameters():
            total[name] += parameter.grad.numpy()
        net.clear_gradients()
    return total


def test_the_installed_paddle_is_the_version_the_workarounds_were_written_for():
    assert INSTALLED == WRITTEN_FOR_PADDLE, RECHECK


def test_amp_settings_and_the_loss_scaler_live_where_the_adapter_reaches_for_them():
    net = network()
    hapi = HapiModel(
        net,
        sgd(net),
        squared_error,
        accumulate_steps=1,
        ignore_index=None,
        amp_configs=dict(AMP),
        amp_dtype="bfloat16",
    )
    adapter = getattr(hapi.model, "_adapter", None)
    assert adapter is not None, f"{RECHECK}: paddle.Model has no _adapter"
    assert getattr(adapter, "_amp_level", None) == "O1", f"{RECHECK}: no _adapter._amp_level"
    configs = {key: AMP[key] for key in AMP if key != "level"}
    assert getattr(adapter, "_amp_configs", None) == configs, f"{RECHECK}: no _amp_configs"
    assert adapter._amp_custom_lists == {"dtype": "bfloat16"}, f"{RECHECK}: _amp_custom_lists"
    assert "dtype" in inspect.signature(paddle.amp.auto_cast).parameters, (
        f"{RECHECK}: paddle.amp.auto_cast takes no dtype"
    )
    assert hasattr(hapi.model, "_scaler") and hapi.scaler_state() is None, (
        f"{RECHECK}: paddle.Model._scaler is not None before the first batch"
    )
    saved = paddle.amp.GradScaler(**configs).state_dict()
    hapi.load_scaler_state(saved)
    scaler = hapi.model._scaler
    assert hapi.scaler_state() == saved
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # AMP does nothing on CPU, and says so
        hapi.model.train_batch([Samples()[0][0][None]], [Samples()[0][1][None]])
    assert hapi.model._scaler is scaler, f"{RECHECK}: train_batch replaced a loaded scaler"


def test_hapi_adds_its_own_lr_scheduler_unless_the_list_holds_one():
    net = network()
    model = paddle.Model(net)
    model.prepare(sgd(net), squared_error)
    clock = ScheduleClock()
    ours = list(config_callbacks([clock], model=model, verbose=0).callbacks)
    assert [c for c in ours if isinstance(c, LRScheduler)] == [clock], (
        f"{RECHECK}: hapi adds an LRScheduler callback beside ScheduleClock"
    )
    default = list(config_callbacks([], model=model, verbose=0).callbacks)
    assert any(isinstance(c, LRScheduler) for c in default), (
        f"{RECHECK}: hapi no longer adds an LRScheduler callback of its own"
    )


def test_hapi_sums_accumulated_gradients_and_steps_through_minimize():
    calls = []

    class CountingMomentum(GroupedMomentum):
        def minimize(self, loss, startup_program=None, parameters=None, no_grad_set=None):
            calls.append(loss)
            return super().minimize(loss, startup_program, parameters, no_grad_set)

    net = network()
    before = {name: p.numpy().copy() for name, p in net.named_parameters()}
    expected = summed_gradients(net, [0, 1])
    model = paddle.Model(net)
    model.prepare(sgd(net, CountingMomentum), squared_error)
    loader = paddle.io.DataLoader(paddle.io.Subset(Samples(), [0, 1]), batch_size=1)
    model.fit(loader, epochs=1, verbose=0, accumulate_grad_batches=2)
    assert len(calls) == 1, f"{RECHECK}: hapi made {len(calls)} minimize calls for one update"
    for name, parameter in net.named_parameters():
        np.testing.assert_allclose(
            before[name] - parameter.numpy(),
            expected[name],
            rtol=1e-5,
            err_msg=f"{RECHECK}: accumulated micro-batch gradients are no longer summed",
        )

    plain = network()
    model = paddle.Model(plain)
    model.prepare(sgd(plain, paddle.optimizer.Momentum), squared_error)
    with pytest.raises(TypeError):
        # If this trains, Momentum.minimize handles parameter groups: GroupedMomentum can go.
        model.fit(loader, epochs=1, verbose=0)


def test_the_adapter_averages_over_accumulation_and_reads_every_loss_term_back():
    seen = []

    class Recorder(Callback):
        def on_train_batch_end(self, step, logs=None):
            seen.append((step, logs["loss"]))

    def two_terms(output, target):
        return [squared_error(output, target), 2.0 * squared_error(output, target)]

    net = network()
    before = {name: p.numpy().copy() for name, p in net.named_parameters()}
    expected = summed_gradients(net, [0, 1])
    hapi = HapiModel(
        net, sgd(net), two_terms, accumulate_steps=2, ignore_index=None, amp_configs=None
    )
    loader = paddle.io.DataLoader(paddle.io.Subset(Samples(), [0, 1]), batch_size=1)
    hapi.fit_one_epoch(loader, [Recorder()])
    assert [step for step, _ in seen] == [0, 1], f"{RECHECK}: micro-batch steps"
    # One update from the mean of two micro-batches of both terms (3x the error).
    for name, parameter in net.named_parameters():
        np.testing.assert_allclose(
            before[name] - parameter.numpy(), 1.5 * expected[name], rtol=1e-5
        )
    terms = hapi.loss.terms_in({"loss": seen[0][1]}, ["one", "two"])
    assert len(seen[0][1]) == 2, f"{RECHECK}: hapi no longer logs one loss value per term"
    assert terms["two"] == pytest.approx(2.0 * terms["one"])
    x, y = (paddle.to_tensor(a[None]) for a in Samples()[0])
    # The first micro-batch ran on the initial weights.
    initial = network()
    assert terms["one"] == pytest.approx(float(squared_error(initial(x), y)), rel=1e-5)


def test_paddle_still_gives_the_notices_the_adapter_silences(monkeypatch):
    def notices(action, text):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            action()
        return [w for w in caught if text in str(w.message)]

    def optimizer():
        net = network()
        return paddle.optimizer.Momentum(
            learning_rate=poly_with_warmup(0.1, 10, 2), parameters=net.parameters()
        )

    state = optimizer().state_dict()
    assert notices(lambda: optimizer().set_state_dict(state), UNUSED_STATE_NOTICE), (
        f"{RECHECK}: LinearWarmup's state no longer draws the notice load_optimizer_state hides"
    )
    assert not notices(lambda: load_optimizer_state(optimizer(), state), UNUSED_STATE_NOTICE)

    creation = paddle.tensor.creation
    assert hasattr(creation, "_warned_in_tensor"), f"{RECHECK}: the copy notice's once-flag moved"
    net = network()
    hapi = HapiModel(
        net, sgd(net), squared_error, accumulate_steps=1, ignore_index=None, amp_configs=None
    )
    loader = paddle.io.DataLoader(Samples(), batch_size=2)
    monkeypatch.setattr(creation, "_warned_in_tensor", False)
    fit = lambda: hapi.model.fit(loader, epochs=1, verbose=0)  # noqa: E731
    assert notices(fit, COPY_CONSTRUCT_NOTICE), (
        f"{RECHECK}: hapi no longer re-wraps label tensors (the copy notice filter can go)"
    )
    monkeypatch.setattr(creation, "_warned_in_tensor", False)
    assert not notices(lambda: hapi.fit_one_epoch(loader, []), COPY_CONSTRUCT_NOTICE)
