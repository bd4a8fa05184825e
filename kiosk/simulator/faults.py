"""Injected failures: targeted one-off faults and seeded random rates."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

FAULT_KINDS = ("status", "drop", "apply_then_status", "apply_then_drop", "latency", "rate_limit")
# Kinds that answer without running the request.
BEFORE_KINDS = frozenset({"status", "drop", "rate_limit"})
# Kinds that run the request, then spoil the answer.
AFTER_KINDS = frozenset({"apply_then_status", "apply_then_drop"})


@dataclass
class Fault:
    """One injected failure.

    kind: "status" (answer `status` with a JSON body, change nothing), "drop" (close the
    connection mid-reply before changing anything: the client sees a transport error),
    "apply_then_status" / "apply_then_drop" (make the change, then fail the reply),
    "latency" (add `latency_ms`, then answer normally; never blocks other requests),
    "rate_limit" (429, with `Retry-After: {retry_after}` when `retry_after` is set).
    method / path_contains narrow the match (path relative to /api/v1.0, as sent, still
    percent-encoded); times is how many requests it hits (None: until cleared).
    """

    kind: str
    method: str | None = None
    path_contains: str | None = None
    times: int | None = 1
    status: int = 503
    retry_after: float | None = None
    latency_ms: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {FAULT_KINDS}")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be None (until cleared) or at least 1")
        if not 100 <= self.status <= 599:
            raise ValueError(f"status {self.status} is not an HTTP status")

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path_contains is None or self.path_contains in path

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fault:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        return cls(**dict(data))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FaultDecision:
    """What to do with one request. `kind` is None when it runs normally."""

    kind: str | None = None
    status: int = 503
    retry_after: float | None = None
    latency_ms: int = 0
    label: str | None = None


@dataclass(frozen=True)
class FaultRates:
    error_rate: float = 0.0
    drop_rate: float = 0.0
    rate_limit_rate: float = 0.0
    apply_then_fail_rate: float = 0.0
    seed: int = 1
    methods: frozenset[str] | None = None
    retry_after: float | None = None


class FaultInjector:
    """Thread-safe list of faults plus seeded random failure rates."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._rates = FaultRates()
        self._rng = random.Random(self._rates.seed)

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every fault and switch random rates off."""
        with self._lock:
            self._faults.clear()
            self._rates = FaultRates()
            self._rng = random.Random(self._rates.seed)

    @property
    def pending(self) -> list[Fault]:
        with self._lock:
            return [Fault(**f.to_dict()) for f in self._faults]

    @property
    def rates(self) -> FaultRates:
        return self._rates

    def set_rates(
        self,
        error_rate: float = 0.0,
        drop_rate: float = 0.0,
        rate_limit_rate: float = 0.0,
        apply_then_fail_rate: float = 0.0,
        seed: int = 1,
        methods: Iterable[str] | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Random failures for every matching request, repeatable for a given seed.
        error_rate -> 503; drop_rate -> dropped connection; rate_limit_rate -> 429;
        apply_then_fail_rate -> the change is made, then half 503, half dropped."""
        total = error_rate + drop_rate + rate_limit_rate + apply_then_fail_rate
        if min(error_rate, drop_rate, rate_limit_rate, apply_then_fail_rate) < 0 or total > 1:
            raise ValueError("rates must be >= 0 and add up to at most 1")
        with self._lock:
            self._rates = FaultRates(
                error_rate,
                drop_rate,
                rate_limit_rate,
                apply_then_fail_rate,
                seed,
                frozenset(m.upper() for m in methods) if methods is not None else None,
                retry_after,
            )
            self._rng = random.Random(seed)

    def decide(self, method: str, path: str) -> FaultDecision:
        """Consume the faults that match this request and say what to do."""
        with self._lock:
            latency = 0
            chosen: Fault | None = None
            for fault in list(self._faults):
                if not fault.matches(method, path):
                    continue
                if fault.kind == "latency":
                    latency += fault.latency_ms
                elif chosen is None:
                    chosen = fault
                else:
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
            if chosen is not None:
                return FaultDecision(
                    chosen.kind, chosen.status, chosen.retry_after, latency, chosen.kind
                )
            random_decision = self._draw(method)
            if random_decision is not None:
                return FaultDecision(
                    random_decision.kind,
                    random_decision.status,
                    random_decision.retry_after,
                    latency,
                    random_decision.label,
                )
            return FaultDecision(latency_ms=latency, label="latency" if latency else None)

    def _draw(self, method: str) -> FaultDecision | None:
        rates = self._rates
        if rates.methods is not None and method.upper() not in rates.methods:
            return None
        total = rates.error_rate + rates.drop_rate + rates.rate_limit_rate
        total += rates.apply_then_fail_rate
        if total <= 0:
            return None
        draw = self._rng.random()
        if draw < rates.drop_rate:
            return FaultDecision("drop", label="drop")
        draw -= rates.drop_rate
        if draw < rates.error_rate:
            return FaultDecision("status", 503, label="status")
        draw -= rates.error_rate
        if draw < rates.rate_limit_rate:
            return FaultDecision("rate_limit", 429, rates.retry_after, label="rate_limit")
        draw -= rates.rate_limit_rate
        if draw < rates.apply_then_fail_rate:
            kind = "apply_then_status" if self._rng.random() < 0.5 else "apply_then_drop"
            return FaultDecision(kind, 503, label=kind)
        return None
