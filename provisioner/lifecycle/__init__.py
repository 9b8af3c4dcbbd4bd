"""The rollout lifecycle: `mtasts promote` (gated ladder steps) and `mtasts import`.

Both end in an edit of the spec, never in a provider write: the change goes through the
same review (a pull request) and the same `plan` / `apply` as any other.
"""
