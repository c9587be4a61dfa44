"""The pipeline tier's machinery: gitlab-ci-local, what a runner's docker executor puts
around a job, and the shared BuildKit on a job network."""
