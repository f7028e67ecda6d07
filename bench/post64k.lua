-- wrk script for the post64k scenario: every request is a POST carrying a 64 KiB body
-- (wrk adds the Content-Length header itself).
wrk.method = "POST"
wrk.body = string.rep("x", 65536)
wrk.headers["Content-Type"] = "application/octet-stream"
