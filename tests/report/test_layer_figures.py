"""The per-layer figures: one line per setting, against depth 1, 2, …, on a log scale."""

from matplotlib.figure import Figure

from divelab.report.layer_figures import plot_activation_std, plot_gradient_norms


def test_plots_have_one_line_per_setting_on_a_log_scale():
    fig = plot_gradient_norms({"a": [1.0, 0.1, 0.01], "b": [1.0, 1.0, 1.0]})
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 2 and ax.get_yscale() == "log"
    assert list(ax.get_lines()[0].get_xdata()) == [1, 2, 3]
    assert isinstance(plot_activation_std({"x": [0.5, 0.4]}), Figure)
