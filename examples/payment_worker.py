"""A Python external-task worker for `order_payment.bpmn`, written against the Camunda 7 client library.

    pip install camunda-external-task-client-python3==4.5.0
    python examples/payment_worker.py                  # works `charge-card` tasks until stopped
    python examples/payment_worker.py --once           # one fetch round, then exits (what the tests run)

It charges orders up to 5,000 and declines larger ones with the BPMN error `CARD_DECLINED`, which the diagram's
boundary event turns into a "Call customer" task. STAGEFLOW_URL and STAGEFLOW_USER / STAGEFLOW_PASSWORD say
where and as whom (defaults: http://127.0.0.1:8080/engine-rest, demo / demo-pass-1). The library is Camunda's
own, unchanged: only the URL points at Stageflow.
"""

from __future__ import annotations

import argparse
import os

from camunda.external_task.external_task import ExternalTask, TaskResult
from camunda.external_task.external_task_worker import ExternalTaskWorker

LIMIT = 5000


def charge_card(task: ExternalTask) -> TaskResult:
    """Charge the order's amount, or decline it with a BPMN error the process handles."""
    amount = task.get_variable("amount")
    if amount is None:
        return task.failure("no amount", "the order has no 'amount' variable", max_retries=0, retry_timeout=0)
    if amount > LIMIT:
        return task.bpmn_error("CARD_DECLINED", f"amount {amount} is over the card limit of {LIMIT}")
    return task.complete({"charged": True, "receipt": f"R-{task.get_business_key() or task.get_task_id()}"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--once", action="store_true", help="one fetch round, then exit")
    args = parser.parse_args()
    config = {"auth_basic": {"username": os.environ.get("STAGEFLOW_USER", "demo"),
                             "password": os.environ.get("STAGEFLOW_PASSWORD", "demo-pass-1")},
              "maxTasks": 10, "lockDuration": 30000, "asyncResponseTimeout": 0 if args.once else 20000,
              "sleepSeconds": 1}
    worker = ExternalTaskWorker(worker_id="payment-worker",
                                base_url=os.environ.get("STAGEFLOW_URL", "http://127.0.0.1:8080/engine-rest"),
                                config=config)
    if args.once:
        worker.fetch_and_execute("charge-card", charge_card)
    else:
        worker.subscribe("charge-card", charge_card)


if __name__ == "__main__":
    main()
