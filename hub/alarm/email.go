package alarm

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/smtp"
	"strings"
	"time"
)

// Email sends events as plain-text mail over SMTP.
type Email struct {
	Addr     string // host:port
	Username string // PLAIN auth when set
	Password string
	From     string
	To       []string
	// Insecure allows a server without STARTTLS (a local relay); otherwise
	// the hub refuses to send mail, and credentials, in clear.
	Insecure bool
	// RootCAs verify the server's certificate; nil = system roots.
	RootCAs *x509.CertPool
	// Hostname is said in EHLO (default "localhost").
	Hostname string
	Timeout  time.Duration // whole conversation; default 30 s
}

// Send delivers ev to every recipient in one message.
func (e *Email) Send(ctx context.Context, ev Event) error {
	if err := e.send(ctx, ev); err != nil {
		return fmt.Errorf("mail alarm via %s: %w", e.Addr, err)
	}
	return nil
}

func (e *Email) send(ctx context.Context, ev Event) error {
	timeout := e.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	host, _, err := net.SplitHostPort(e.Addr)
	if err != nil {
		return err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", e.Addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		return err
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return err
	}
	defer c.Close()
	name := e.Hostname
	if name == "" {
		name = "localhost"
	}
	if err := c.Hello(name); err != nil {
		return fmt.Errorf("ehlo: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: host, RootCAs: e.RootCAs, MinVersion: tls.VersionTLS12}); err != nil {
			return fmt.Errorf("starttls: %w", err)
		}
	} else if !e.Insecure {
		return errors.New("server does not offer STARTTLS (set insecure = true only for a trusted local relay)")
	}
	if e.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", e.Username, e.Password, host)); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	if err := c.Mail(e.From); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	for _, to := range e.To {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("rcpt to %s: %w", to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if _, err := w.Write(e.message(ev)); err != nil {
		return fmt.Errorf("write message: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("end message: %w", err)
	}
	return c.Quit()
}

// message renders ev as an RFC 5322 message with CRLF line ends. Header
// values from the fleet (agent and certificate names) are Q-encoded, so
// nothing an agent reports can add a header.
func (e *Email) message(ev Event) []byte {
	var b bytes.Buffer
	hdr := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	hdr("From", e.From)
	hdr("To", strings.Join(e.To, ", "))
	hdr("Subject", mime.QEncoding.Encode("utf-8", ev.Subject()))
	hdr("Date", ev.Time.Format(time.RFC1123Z))
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "8bit")
	hdr("X-Certfleet-Alarm", ev.State+" "+ev.Condition.Kind)
	b.WriteString("\r\n")
	body := fmt.Sprintf("%s\n\nState:   %s\nKind:    %s\nAgent:   %s\nCert:    %s\nSince:   %s\nHub:     %s\nChannel: %s\nTime:    %s\n",
		ev.Condition.Message, ev.State, ev.Condition.Kind, ev.Condition.Agent, ev.Condition.Cert,
		ev.Condition.Since.Format(time.RFC3339), ev.Hub, ev.Channel, ev.Time.Format(time.RFC3339))
	if ev.State == StateResolved {
		body = "Resolved: " + body
	}
	for _, line := range strings.Split(strings.TrimRight(body, "\n"), "\n") {
		// A lone "." would end the DATA early; net/smtp dot-stuffs, but
		// keep bare CRs out of the body.
		b.WriteString(strings.ReplaceAll(line, "\r", ""))
		b.WriteString("\r\n")
	}
	return b.Bytes()
}
