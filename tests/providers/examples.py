"""Official-format answers (docs/kling.md sections 2, 6, 7, 8) and the gateways' shapes (section 10)."""

CREATE_OK = {
    "code": 0,
    "message": "SUCCEED",
    "request_id": "c0656403-1e6e-4b7e-b8f8-2cdd2595f2b9",
    "data": {
        "task_id": "867283741759111202",
        "task_status": "submitted",
        "task_info": {"external_task_id": "text2video_kling_v3_final-1774805076"},
        "created_at": 1774805076166,
        "updated_at": 1774805076166,
    },
}

# The real failed task (new-api PR #2532): the top-level message says SUCCEED.
FAILED_TASK = {
    "code": 0,
    "message": "SUCCEED",
    "request_id": "ace7625a-3e18-49aa-abc4-000000000000",
    "data": {
        "task_id": "833446756000000000",
        "task_info": {},
        "created_at": 1766737710125,
        "updated_at": 1766737711775,
        "task_result": {},
        "task_status": "failed",
        "task_status_msg": "Image pixel is invalid",
    },
}

SUCCEEDED_VIDEO_TASK = {
    "task_id": "867283741759111202",
    "task_status": "succeed",
    "task_status_msg": "",
    "created_at": 1774805076166,
    "updated_at": 1774805190012,
    "final_unit_deduction": "2.5",
    "final_balance_deduction": {"quota": "0", "list_price": "0"},
    "task_info": {"external_task_id": "job-42"},
    "task_result": {
        "videos": [
            {
                "id": "v-1",
                "url": "https://cdn.klingai.com/bs2/upload-kling-api/v.mp4",
                "watermark_url": "https://cdn.klingai.com/bs2/upload-kling-api/w.mp4",
                "duration": "5.1",
            }
        ]
    },
}
SUCCEEDED_VIDEO = {"code": 0, "message": "SUCCEED", "request_id": "r-video", "data": SUCCEEDED_VIDEO_TASK}

SUCCEEDED_IMAGES = {
    "code": 0,
    "message": "SUCCEED",
    "request_id": "r-images",
    "data": {
        "task_id": "867283741759111300",
        "task_status": "succeed",
        "task_status_msg": "",
        "task_info": {"external_task_id": "img-1"},
        "final_unit_deduction": "8",
        "created_at": 1774805076166,
        "updated_at": 1774805100000,
        "task_result": {
            "images": [
                {"index": 0, "url": "https://cdn.klingai.com/a.png", "watermark_url": ""},
                {"index": 1, "url": "https://cdn.klingai.com/b.png", "watermark_url": ""},
            ]
        },
    },
}

ERROR_1303 = {
    "code": 1303,
    "message": "parallel task over resource pack limit",
    "request_id": "9984d27b-a408-4073-ae28-17ca6a13622d",
}

ACCOUNT_COSTS = {
    "code": 0,
    "message": "SUCCEED",
    "request_id": "r-costs",
    "data": {
        "code": 0,
        "msg": "success",
        "resource_pack_subscribe_infos": [
            {
                "resource_pack_name": "Trial-Video-100Units-5Con-1Months",
                "resource_pack_id": "p-1",
                "resource_pack_type": "decreasing_total",
                "total_quantity": 100.0,
                "remaining_quantity": 97.5,
                "purchase_time": 1726124664368,
                "effective_time": 1726124664368,
                "invalid_time": 1792530513975,
                "status": "online",
            }
        ],
    },
}

# Seed 004 (a Kling-compatible proxy under /klingai): lower-case message, thin answers.
PROXY_CREATE = {"code": 0, "message": "success", "data": {"task_id": "2026040901144560ed39e7182144d8"}}
PROXY_QUERY = {
    "code": 0,
    "message": "success",
    "data": {
        "task_id": "2026040901144560ed39e7182144d8",
        "task_status": "succeed",
        "task_result": {"videos": [{"url": "https://cdn.example.com/video.mp4", "duration": "5"}]},
    },
}

# Seed 002 (the unified gateway).
GATEWAY_COMPLETED = {
    "id": "task_xxx",
    "task_id": "task_xxx",
    "object": "video.generation.job",
    "model": "kling-v3-pro-audio",
    "status": "completed",
    "progress": 100,
    "video_url": "https://example.com/output.mp4",
}

HTML_502 = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>"
