"""Which namespaces the operator watches, from its chart's operator.scope."""

import pytest

from ohlcv_operator.settings import OperatorSettings, Scope


def test_the_operators_own_namespace_is_always_watched_and_cluster_means_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPERATOR_NAMESPACE", "fullon")  # as the chart sets it
    assert OperatorSettings().watched() == ["fullon"]
    listed = OperatorSettings(scope=Scope.NAMESPACES, watch_namespaces=["b", "a", "fullon"])
    assert listed.watched() == ["a", "b", "fullon"]
    assert OperatorSettings(scope=Scope.CLUSTER).watched() is None
