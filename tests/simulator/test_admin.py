"""Staff tune the simulator from the admin: one settings row, read-only tasks and callbacks."""

from generations.simulator.models import SimFaults


def test_it_opens_the_single_settings_row(sim, client, staff):
    client.force_login(staff)
    response = client.get("/admin/simulator/simfaults/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/simulator/simfaults/1/change/"
    page = client.get("/admin/simulator/simfaults/1/change/")
    assert page.status_code == 200
    assert b"rate_5002_after_create" in page.content


def test_it_saves_knobs_from_the_admin(sim, client, staff):
    client.force_login(staff)
    form = {
        field.name: getattr(SimFaults.current(), field.name)
        for field in SimFaults._meta.fields
        if field.name not in ("id", "updated_at", "queue_seconds", "run_seconds")
    }
    form.update(rate_1303="0.25", queue_seconds="", run_seconds="")
    response = client.post("/admin/simulator/simfaults/1/change/", form)
    assert response.status_code == 302
    assert SimFaults.current().rate_1303 == 0.25


def test_it_refuses_rates_outside_zero_to_one(sim, client, staff):
    client.force_login(staff)
    form = {
        field.name: getattr(SimFaults.current(), field.name)
        for field in SimFaults._meta.fields
        if field.name not in ("id", "updated_at", "queue_seconds", "run_seconds")
    }
    form.update(rate_5000="1.5")
    response = client.post("/admin/simulator/simfaults/1/change/", form)
    assert response.status_code == 200
    assert SimFaults.current().rate_5000 == 0


def test_it_lists_tasks_and_callbacks_read_only(sim, client, staff):
    from generations.providers.base import GenerationRequest

    sim.client().submit(
        GenerationRequest(
            "videos/text2video", {"model_name": "kling-v2-6", "prompt": "p"}, "adm", sim.receiver_url()
        )
    )
    client.force_login(staff)
    tasks = client.get("/admin/simulator/simtask/")
    assert tasks.status_code == 200 and b"submitted" in tasks.content
    assert client.get("/admin/simulator/simcallback/").status_code == 200
    assert client.get("/admin/simulator/simtask/add/").status_code == 403
