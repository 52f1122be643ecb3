"""The card production worker for `processes/card_issuance.bpmn`, on Camunda's external task client.

    python examples/card_production_worker.py            # works `card-production` tasks until stopped
    python examples/card_production_worker.py --once     # one fetch round, then exits (what the tests run)

It "prints" the card: a card number from the card type and the task, set as `cardNumber`. A printer failure
(here: the variable `printerJam` is true) is reported with 2 retries, 5 minutes apart; when the retries are used
up the task becomes an incident that an operator resolves (`PUT /external-task/{id}/retries`).
STAGEFLOW_URL, STAGEFLOW_USER and STAGEFLOW_PASSWORD say where and as whom (defaults:
http://127.0.0.1:8080/engine-rest, demo, demo-pass-1).
"""

from __future__ import annotations

import argparse
import os
import zlib

from camunda.external_task.external_task import ExternalTask, TaskResult
from camunda.external_task.external_task_worker import ExternalTaskWorker

PREFIX = {"standard": "4000", "silver": "4100", "gold": "4200"}


def produce(task: ExternalTask) -> TaskResult:
    """Print the card, or report the printer's failure (retries counted down from 2)."""
    if task.get_variable("printerJam"):  # the library counts the retries down from max_retries
        return task.failure("printer jammed", "the card printer reported a jam", max_retries=2,
                            retry_timeout=5 * 60 * 1000)
    card_type = task.get_variable("cardType") or "standard"
    number = f"{PREFIX.get(card_type, '4000')}{zlib.crc32(task.get_task_id().encode()) % 10**12:012d}"
    return task.complete({"cardNumber": number})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--once", action="store_true", help="one fetch round, then exit")
    args = parser.parse_args()
    config = {"auth_basic": {"username": os.environ.get("STAGEFLOW_USER", "demo"),
                             "password": os.environ.get("STAGEFLOW_PASSWORD", "demo-pass-1")},
              "maxTasks": 10, "lockDuration": 60000, "asyncResponseTimeout": 0 if args.once else 20000,
              "sleepSeconds": 1}
    worker = ExternalTaskWorker(worker_id="card-printer",
                                base_url=os.environ.get("STAGEFLOW_URL", "http://127.0.0.1:8080/engine-rest"),
                                config=config)
    if args.once:
        worker.fetch_and_execute("card-production", produce)
    else:
        worker.subscribe("card-production", produce)


if __name__ == "__main__":
    main()
