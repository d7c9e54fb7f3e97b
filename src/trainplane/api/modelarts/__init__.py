"""The Huawei ModelArts v1 dialect: old-version training jobs under `/v1/{project_id}/...`
(reference/modelarts_baseten.md §1). A ModelArts job is a job group, a version one run of it."""
