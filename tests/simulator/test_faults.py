"""Each fault knob produces the right ProviderError in the official client, and the
recovery path (look the task up by external id) finds what was really created."""

import pytest

from generations.providers.base import GenerationRequest, ProviderError, TaskStatus
from generations.providers.errors import CONTENT_REFUSED_MESSAGE, failed_task_user_message

T2V = "videos/text2video"


def _request(external_id="fault-1"):
    return GenerationRequest(
        T2V, {"model_name": "kling-v2-6", "prompt": "fog over a harbour"}, external_task_id=external_id
    )


def _submit_error(sim, external_id="fault-1") -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        sim.client().submit(_request(external_id))
    return caught.value


def test_it_answers_1302_on_request_and_creates_nothing(sim):
    sim.set_faults(rate_1302=1)
    error = _submit_error(sim)
    assert (error.code, error.provider_code, error.http_status) == ("rate_limited", 1302, 429)
    assert error.retryable and not error.may_have_created
    sim.set_faults(rate_1302=0)
    assert sim.client().find_by_external_id(T2V, "fault-1") is None


def test_it_answers_1303_on_request_and_creates_nothing(sim):
    sim.set_faults(rate_1303=1)
    error = _submit_error(sim)
    assert (error.code, error.provider_code) == ("concurrency_limited", 1303)
    assert error.retryable and not error.may_have_created
    assert not sim.tasks().exists()


def test_it_answers_5000_which_may_have_created_but_did_not(sim):
    sim.set_faults(rate_5000=1)
    error = _submit_error(sim)
    assert (error.code, error.provider_code, error.http_status) == ("provider_error", 5000, 500)
    assert error.retryable and error.may_have_created
    sim.set_faults(rate_5000=0)
    # The lookup says it is absent, so resubmitting is safe.
    assert sim.client().find_by_external_id(T2V, "fault-1") is None


def test_it_creates_the_task_then_answers_5002_and_the_lookup_recovers_it(sim):
    sim.set_faults(rate_5002_after_create=1)
    error = _submit_error(sim)
    assert (error.code, error.provider_code, error.http_status) == ("provider_timeout", 5002, 504)
    assert error.retryable and error.may_have_created
    found = sim.client().find_by_external_id(T2V, "fault-1")
    assert found is not None and found.status == TaskStatus.SUBMITTED
    assert sim.tasks().count() == 1


def test_it_times_out_after_doing_the_work(sim):
    sim.simulate_read_timeouts()
    error = _submit_error(sim)
    assert (error.code, error.retryable, error.may_have_created) == ("timeout", True, True)
    with pytest.raises(ProviderError) as on_query:
        sim.client().get(T2V, "fault-1")
    assert on_query.value.code == "timeout" and not on_query.value.may_have_created
    sim.simulate_read_timeouts(0)
    assert sim.client().find_by_external_id(T2V, "fault-1") is not None


def test_it_answers_broken_json_after_doing_the_work(sim):
    sim.set_faults(rate_malformed_json=1)
    error = _submit_error(sim)
    assert (error.code, error.retryable, error.may_have_created) == ("bad_response", True, True)
    with pytest.raises(ProviderError) as on_list:
        sim.client().list_tasks(T2V)
    assert on_list.value.code == "bad_response" and not on_list.value.may_have_created
    sim.set_faults(rate_malformed_json=0)
    assert sim.tasks().count() == 1


def test_it_fails_accepted_tasks_with_the_configured_message(sim):
    sim.set_faults(rate_failed_task=1)
    client = sim.client()
    task = client.submit(_request())
    sim.finish()
    done = client.get(T2V, task.task_id)
    assert done.status == TaskStatus.FAILED
    assert done.status_message.startswith("Failure to pass the risk control system")
    assert failed_task_user_message(done.status_message, kind="text2video") == CONTENT_REFUSED_MESSAGE

    sim.set_faults(failed_task_message="Image pixel is invalid")
    other = client.submit(_request("fault-2"))
    sim.finish()
    assert client.get(T2V, other.task_id).status_message == "Image pixel is invalid"


def test_it_rejects_unknown_knobs(sim):
    from tests.fixtures.simulator import set_faults

    with pytest.raises(AttributeError):
        set_faults(rate_meteor_strike=1)
