/* The NATS URL helpers of shared/src/bus.c: passwords never shown, inbox prefixes per user. */
#include "check.h"
#include "sq/bus.h"

static void redact(const char *url, const char *want)
{
    char out[256];
    sq_nats_url_redact(url, out, sizeof out);
    CHECK_STR(out, want, url);
}

static void prefix(const char *url, const char *user, const char *want)
{
    char out[96];
    sq_nats_inbox_prefix(url, user, out, sizeof out);
    CHECK_STR(out, want, url);
}

int main(void)
{
    char small[12];

    SECTION("redact");
    redact("nats://ops:s3cr3t@127.0.0.1:4222", "nats://ops:***@127.0.0.1:4222");
    redact("nats://127.0.0.1:4222", "nats://127.0.0.1:4222");
    redact("nats://user@127.0.0.1:4222", "nats://user@127.0.0.1:4222");
    redact("nats://a:p1@h1:1,nats://b:p2@h2:2", "nats://a:***@h1:1,nats://b:***@h2:2");
    redact("a:pw@host", "a:***@host");
    redact("nats://a:@h", "nats://a:***@h");
    redact("nats://a:p:q@h", "nats://a:***@h");
    redact("nats://a:p@ss@h:1", "nats://a:***@h:1");
    redact("", "");
    sq_nats_url_redact("nats://ops:secretsecret@h", small, sizeof small);
    CHECK(strstr(small, "secret") == NULL, "truncated: %s", small);
    CHECK_INT(strlen(small), sizeof small - 1, "truncated length");

    SECTION("inbox prefix");
    prefix("nats://gateway:pw@127.0.0.1:4222", NULL, "_INBOX_gateway");
    prefix("nats://127.0.0.1:4222", NULL, "_INBOX");
    prefix("nats://127.0.0.1:4222", "ops", "_INBOX_ops");
    prefix("nats://x:pw@h", "", "_INBOX_x");
    prefix("nats://a.b*c>:pw@h", NULL, "_INBOX_a_b_c_");
    prefix("nats://h1:4222,nats://u:p@h2", NULL, "_INBOX");
    prefix(NULL, NULL, "_INBOX");
    return check_done();
}
