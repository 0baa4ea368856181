"""The result a ready dish leaves, as Celery's own AsyncResult and result backend read it.

The kitchen writes a ready dish's result itself, with its `ready` event (kitchen/reporting.py,
after the layout of the backend's `_get_result_meta`); Celery writes the others. Both must read
back the same way, whichever Celery wrote them.
"""

import pytest
from celery import Celery

from tests.conftest import Waiter, created_ids
from tools.worker import KitchenWorker

pytestmark = pytest.mark.e2e


def test_a_ready_dish_reads_back_as_celery_would_have_stored_it(
    waiter: Waiter, worker: KitchenWorker, raw_sender: Celery
) -> None:
    ready = waiter("order", "-t", "41", "-d", "Salad", "--note", "no onions", "--wait")
    # Soup cooks past its soft limit in the test kitchen, at its first attempt as the Salad
    # (a retried dish's result names its parent): Celery stores its failure itself.
    failed = waiter("order", "-t", "42", "-d", "Soup", "--wait")
    [salad] = created_ids(ready.stdout)
    [soup] = created_ids(failed.stdout)
    assert ready.returncode == 0 and failed.returncode == 4, ready.stderr + failed.stderr

    ours = raw_sender.AsyncResult(salad)
    celerys = raw_sender.AsyncResult(soup)

    assert ours.state == "SUCCESS" and ours.successful()
    assert ours.result["order_id"] == salad and ours.result["dish"] == "Salad"
    assert ours.result["note"] == "no onions" and ours.result["table"] == 41
    assert ours.name == "kitchen.prepare_dish" and ours.kwargs["dish"] == "Salad"
    assert ours.args == [] and ours.worker.split("@")[0] == worker.name.split("@")[0]
    assert ours.retries == 0 and ours.queue == "cold"
    assert ours.date_done is not None
    assert celerys.state == "FAILURE" and celerys.name == "kitchen.prepare_dish"
    # The same fields as a result Celery's backend wrote itself, none missing, none extra.
    backend = raw_sender.backend
    assert set(backend.get_task_meta(salad)) == set(backend.get_task_meta(soup))
