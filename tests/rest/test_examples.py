"""The examples in `examples/` run as the README says: the curl walk-through and the Python payment worker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from engine.api import Engine
from tests.rest.conftest import PASSWORD

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_curl_walkthrough_runs_an_order_to_its_end(server: str, engine: Engine) -> None:
    env = {**os.environ, "STAGEFLOW_URL": server, "STAGEFLOW_AUTH": f"admin:{PASSWORD}", "ORDER_KEY": "ORDER-T1"}
    done = subprocess.run(["sh", str(EXAMPLES / "curl_walkthrough.sh")], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == "COMPLETED"
    [instance] = engine.instances.list(business_key="ORDER-T1")
    assert instance.state == "COMPLETED"
    completed = [h.element_id for h in engine.instances.history(instance.id) if h.event == "completed"]
    assert completed == ["order_received", "charge_card", "payment_confirmed", "ship_order", "order_shipped",
                         "order_payment"]


def test_the_payment_worker_charges_small_orders_and_declines_large_ones(server: str, engine: Engine) -> None:
    engine.definitions.deploy_files([EXAMPLES / "order_payment.bpmn"])
    small = engine.instances.start("order_payment", business_key="S-1", variables={"amount": 120})
    large = engine.instances.start("order_payment", business_key="L-1", variables={"amount": 9000})
    env = {**os.environ, "STAGEFLOW_URL": server, "STAGEFLOW_USER": "admin", "STAGEFLOW_PASSWORD": PASSWORD}
    done = subprocess.run([sys.executable, str(EXAMPLES / "payment_worker.py"), "--once"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert engine.instances.variables(small.id)["receipt"] == "R-S-1"
    assert engine.instances.state(small.id).active_elements == ["payment_confirmed"]
    assert [t.task_definition_key for t in engine.tasks.list(instance_id=large.id)] == ["call_customer"]
    assert "over the card limit" in engine.instances.variables(large.id)["declineReason"]
