"""The layer probe on models unlike the course's: any dtype, outputs that are tuples or dicts,
layers called several times in one forward, recurrent layers, constant weights. Real small
Paddle models, one step each."""

from __future__ import annotations

import numpy as np
import paddle
import pytest
from paddle import nn

from mnist_tui.engine.probe import LayerProbe


@pytest.fixture
def float64_default():
    paddle.set_default_dtype("float64")
    yield
    paddle.set_default_dtype("float32")


def armed_step(net: nn.Layer, x, loss_of, probe: LayerProbe | None = None) -> LayerProbe:
    """One training step (Adam) with the probe armed: it catches outputs, gradients and the update."""
    probe = probe or LayerProbe(net)
    opt = paddle.optimizer.Adam(learning_rate=0.01, parameters=net.parameters())
    probe.arm()
    loss = loss_of(net(x))
    loss.backward()
    opt.step()
    opt.clear_grad()
    probe.disarm()
    return probe


def numpy_row(a: np.ndarray) -> dict:
    a = a.astype("float64")
    return {"mean": a.mean(), "std": a.std(), "min": a.min(), "max": a.max(), "zero_frac": (a == 0).mean()}


def assert_row(row: dict, a: np.ndarray) -> None:
    for key, value in numpy_row(a).items():
        assert row[key] == pytest.approx(value, rel=1e-4, abs=1e-5), key


def test_a_float64_model_gets_float32_statistics(float64_default):
    paddle.seed(0)
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
    x = paddle.randn([16, 8])
    hidden = nn.functional.relu(net[0](x)).numpy()  # before the step changes the weights
    probe = armed_step(net, x, lambda out: (out ** 2).mean())
    rows = {row["name"]: row for row in probe.stats()}
    assert probe.outputs["1"].dtype == paddle.float64 and set(rows) == {"0", "1", "2"}
    assert_row(rows["1"], hidden)
    assert rows["0"]["grad_norm"] > 0 and -6 < rows["0"]["update_ratio_log10"] < 0


class Cast(nn.Layer):
    """Hands its input on in another dtype."""

    def __init__(self, dtype: str) -> None:
        super().__init__()
        self.dtype = dtype

    def forward(self, x):
        return x.astype(self.dtype)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16", "int32"])
def test_outputs_of_any_dtype_are_measured_in_float32(dtype):
    paddle.seed(0)
    net = nn.Sequential(nn.Linear(4, 8), Cast(dtype), Cast("float32"), nn.Linear(8, 2))
    probe = LayerProbe(net)
    probe.look(paddle.randn([5, 4]) * 3)
    row = next(r for r in probe.stats() if r["name"] == "1")
    assert probe.outputs["1"].dtype == getattr(paddle, dtype)
    assert_row(row, probe.outputs["1"].astype("float32").numpy())


class TupleNet(nn.Layer):
    """A classifier whose forward returns (logits, features), with a Dropout defined last and
    used on the features only, as detection and metric-learning models do."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(6, 12)
        self.head = nn.Linear(12, 3)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        features = self.body(x)
        return self.head(features), self.drop(features)


class DictNet(TupleNet):
    def forward(self, x):
        features = self.body(x)
        return {"features": self.drop(features), "logits": self.head(features)}


def test_the_network_output_is_the_root_layers_result_not_the_last_defined_layer():
    paddle.seed(0)
    x = paddle.randn([4, 6])
    probe = LayerProbe(TupleNet())
    probe.look(x)
    output, where = probe.network_output()
    assert where == "[0]" and output.shape == [4, 3]  # the logits, not the Dropout's 12 values
    np.testing.assert_allclose(output.numpy(), probe.outputs["head"].numpy())
    dict_probe = LayerProbe(DictNet())
    dict_probe.look(x)
    output, where = dict_probe.network_output()
    assert where == "['features']" and output.shape == [4, 12]  # a dict: its first entry, and it says so
    trained = armed_step(TupleNet(), x, lambda out: out[0].mean())
    output, where = trained.network_output()
    assert where == "[0]" and output.stop_gradient, "kept without the graph behind it"
    plain = LayerProbe(nn.Sequential(nn.Linear(6, 2)))
    assert plain.network_output() == (None, "")  # nothing caught yet
    plain.look(x)
    assert plain.network_output()[1] == "" and plain.network_output()[0].shape == [4, 2]


class SharedRelu(nn.Layer):
    """One ReLU used after each of three linear layers of different widths."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b, self.c = nn.Linear(5, 8), nn.Linear(8, 8), nn.Linear(8, 3)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.c(self.relu(self.b(self.relu(self.a(x)))))


def test_a_layer_called_three_times_is_shown_per_call_with_statistics_over_all_calls():
    paddle.seed(0)
    net = SharedRelu()
    x = paddle.randn([4, 5])
    with paddle.no_grad():
        first = nn.functional.relu(net.a(x))
        second = nn.functional.relu(net.b(first))
    probe = LayerProbe(net)
    probe.look(x)
    relu = next(row for row in probe.facts() if row["name"] == "relu")
    assert relu["calls"] == 2 and relu["output_shapes"] == [[4, 8], [4, 8]]
    row = next(r for r in probe.stats() if r["name"] == "relu")
    assert row["calls"] == 2
    both = np.concatenate([first.numpy().ravel(), second.numpy().ravel()])
    assert_row(row, both)
    dead = (np.maximum(np.abs(first.numpy()).max(0), np.abs(second.numpy()).max(0)) == 0).mean()
    assert row["dead_frac"] == pytest.approx(dead)  # a unit is dead when it is zero in every call


@pytest.mark.parametrize("make", [lambda: nn.LSTM(4, 8), lambda: nn.GRU(4, 8, num_layers=2, direction="bidirect"),
                                  lambda: nn.SimpleRNN(4, 8), lambda: nn.RNN(nn.LSTMCell(4, 8))],
                         ids=["LSTM", "GRU", "SimpleRNN", "RNN(LSTMCell)"])
def test_recurrent_layers_get_output_statistics_and_gradient_norms(make):
    paddle.seed(0)

    class Classifier(nn.Layer):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(20, 4)
            self.rnn = make()
            self.fc = nn.Linear(self.rnn(paddle.zeros([1, 2, 4]))[0].shape[-1], 2)

        def forward(self, tokens):
            sequence, _ = self.rnn(self.embed(tokens))
            return self.fc(sequence[:, -1])

    net = Classifier()
    tokens = paddle.randint(0, 20, [3, 7])  # integer inputs
    probe = armed_step(net, tokens, lambda out: nn.functional.cross_entropy(out, paddle.to_tensor([[0], [1], [0]])))
    facts = {row["name"]: row for row in probe.facts()}
    assert list(facts) == ["embed", "rnn", "fc"]  # the cells are inside the recurrent layer's row
    width = facts["fc"]["hyper"]["in"]
    assert facts["rnn"]["output_shape"] == [3, 7, width] and facts["rnn"]["output_element"] == "[0]"
    assert facts["rnn"]["param_count"] > 0
    rows = {row["name"]: row for row in probe.stats()}
    assert rows["rnn"]["grad_norm"] > 0 and rows["rnn"]["std"] > 0
    assert rows["rnn"]["update_ratio_log10"] < 0


def test_a_recurrent_cell_called_per_time_step_is_one_row_over_every_step():
    paddle.seed(0)
    cell = nn.GRUCell(4, 6)

    class Loop(nn.Layer):
        def __init__(self) -> None:
            super().__init__()
            self.cell, self.fc = cell, nn.Linear(6, 2)

        def forward(self, x):
            state = None
            for t in range(x.shape[1]):
                out, state = self.cell(x[:, t], state)
            return self.fc(out)

    probe = armed_step(Loop(), paddle.randn([3, 5, 4]), lambda out: out.mean())
    facts = {row["name"]: row for row in probe.facts()}
    assert facts["cell"]["calls"] == 5 and facts["cell"]["output_shapes"] == [[3, 6]] * 5
    row = next(r for r in probe.stats() if r["name"] == "cell")
    assert row["calls"] == 5 and row["grad_norm"] > 0


def test_update_ratio_of_constant_weights_is_relative_to_their_scale_or_says_why_there_is_none():
    paddle.seed(0)
    net = nn.Sequential(nn.Conv2D(1, 4, 3), nn.BatchNorm2D(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 3))
    probe = armed_step(net, paddle.randn([8, 1, 6, 6]), lambda out: (out ** 2).mean())
    rows = {row["name"]: row for row in probe.stats()}
    # BatchNorm's γ starts at exactly 1 (its spread is 0): the update is compared with its scale, 1.
    gamma_change = float(np.sqrt(((net[1].weight.numpy() - 1.0) ** 2).mean()))
    assert gamma_change > 0
    assert rows["1"]["update_ratio_log10"] == pytest.approx(np.log10(gamma_change), abs=1e-3)
    assert -4 < rows["1"]["update_ratio_log10"] < 0


def test_no_update_ratio_where_there_is_no_scale_or_no_update_and_the_reason_given():
    paddle.seed(0)
    frozen = nn.Linear(3, 3)
    for param in frozen.parameters():
        param.stop_gradient = True
    net = nn.Sequential(nn.Linear(4, 3), frozen, nn.Linear(3, 2))
    net[2].weight.set_value(paddle.zeros([3, 2]))  # a zero-initialised head: nothing flows back through it
    probe = armed_step(net, paddle.randn([8, 4]), lambda out: ((out - 1) ** 2).mean())
    rows = {row["name"]: row for row in probe.stats()}
    assert rows["2"]["update_ratio_log10"] is None
    assert rows["2"]["update_ratio_note"] == "weights were all zero before the step"
    assert rows["0"]["update_ratio_log10"] is None  # its gradient is zero: Adam leaves it unchanged
    assert rows["0"]["update_ratio_note"] == "not updated in this step"
    assert rows["1"]["grad_norm"] is None and rows["1"]["update_ratio_log10"] is None  # frozen: nothing to show


class Sized(nn.Layer):
    """A custom layer with an `input_size` attribute and no hidden size."""

    def __init__(self) -> None:
        super().__init__()
        self.input_size = 4
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(x)


def test_hyper_parameters_of_recurrent_and_custom_layers_are_shown_only_when_complete():
    from mnist_tui.engine.probe import hyper_params
    from mnist_tui.tui.widgets.layers_tab import hyper_text

    assert hyper_text(hyper_params(nn.GRU(3, 5))) == "3→5"
    assert hyper_text(hyper_params(nn.LSTMCell(3, 5))) == "3→5"
    assert hyper_params(Sized()) == {"in": 4} and hyper_text(hyper_params(Sized())) == "-"
