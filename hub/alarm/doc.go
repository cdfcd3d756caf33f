// Package alarm turns the fleet view into alarm conditions per [[alarm]]
// channel (each with its own thresholds) and delivers them: a webhook
// (JSON, HMAC-SHA256 signed, retried with backoff) or e-mail over SMTP
// (STARTTLS, PLAIN auth). Which conditions were sent is kept by the caller
// (the hub keeps it in JetStream KV, see hub/service/alarms.go), so each
// condition is sent once when raised and once when it clears.
package alarm
