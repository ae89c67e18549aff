//! Tests for the redaction pass: a corpus of real-format fake secrets that must be replaced, a
//! corpus of look-alikes that must survive byte-identical, and the invariants (idempotence,
//! offsets, borrowing, merging, JSON walking).
//!
//! Fake secrets are assembled at runtime from a deterministic generator so that no
//! secret-shaped literal appears in the source (GitHub push protection, secret scanners).

use std::borrow::Cow;

use pretty_assertions::assert_eq;
use rstest::rstest;
use serde_json::json;

use super::*;

/// A deterministic pseudo-random alphanumeric string of `len` characters (mixed case and
/// digits), different for each `seed`.
fn fake_body(seed: u64, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789";
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut out = String::with_capacity(len);
    for i in 0..len {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let index = usize::try_from((state >> 33) % ALPHABET.len() as u64).unwrap();
        // Force every class early so that short bodies are still mixed.
        let c = match i {
            0 => 'Q',
            1 => '7',
            2 => 'm',
            _ => char::from(ALPHABET[index]),
        };
        out.push(c);
    }
    out
}

fn redactor() -> Redactor {
    Redactor::new().unwrap()
}

fn pem_block(label: &str, lines: usize) -> String {
    let mut block = format!("-----BEGIN {label}-----\n");
    for i in 0..lines {
        block.push_str(&fake_body(100 + i as u64, 64));
        block.push('\n');
    }
    block.push_str(&fake_body(99, 20));
    block.push_str(&format!("\n-----END {label}-----"));
    block
}

#[test]
fn redactor_builds_from_the_shipped_patterns() {
    assert!(Redactor::new().is_ok());
}

#[test]
fn every_kind_has_a_kebab_case_name_and_matching_marker() {
    for kind in SecretKind::ALL {
        let name = kind.as_str();
        assert!(
            name.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
            "{name}"
        );
        assert_eq!(kind.marker(), format!("[REDACTED:{name}]"));
        assert_eq!(kind.to_string(), name);
        assert_eq!(serde_json::to_value(kind).unwrap(), json!(name));
    }
}

#[rstest]
#[case::openai_legacy_key(SecretKind::OpenaiKey, "OPENAI key is ", format!("sk-{}", fake_body(1, 48)), " ok")]
#[case::openai_project_key(SecretKind::OpenaiKey, "export OPENAI_API_KEY=", format!("sk-proj-{}_{}-{}", fake_body(2, 60), fake_body(3, 40), fake_body(4, 50)), "\n")]
#[case::anthropic_key(SecretKind::AnthropicKey, "ANTHROPIC_API_KEY=\"", format!("sk-{}-api03-{}-{}AA", "ant", fake_body(5, 60), fake_body(6, 30)), "\"")]
#[case::aws_access_key(SecretKind::AwsAccessKey, "aws_access_key_id = ", format!("AKIA{}", "IOSFODNN7EXAMPLE"), "\n")]
#[case::aws_session_access_key(SecretKind::AwsAccessKey, "\"AccessKeyId\": \"", format!("ASIA{}", "FAKE0EXAMPLE1234"), "\",")]
#[case::aws_secret_key_in_credentials_file(SecretKind::AwsSecretKey, "aws_secret_access_key = ", format!("{}/{}", fake_body(7, 20), fake_body(8, 19)), "\n")]
#[case::aws_secret_key_in_sts_json(SecretKind::AwsSecretKey, "\"SecretAccessKey\": \"", format!("{}+{}", fake_body(9, 25), fake_body(10, 14)), "\"")]
#[case::github_classic_token(SecretKind::GithubToken, "git push with ", format!("gh{}_{}", "p", fake_body(11, 36)), " done")]
#[case::github_app_token(SecretKind::GithubToken, "GH_TOKEN=", format!("gh{}_{}", "s", fake_body(12, 36)), "")]
#[case::github_fine_grained_token(SecretKind::GithubToken, "token ", format!("github_{}_{}_{}", "pat", fake_body(13, 22), fake_body(14, 59)), "")]
#[case::gitlab_token(SecretKind::GitlabToken, "use ", format!("glpat-{}", fake_body(15, 20)), " for CI")]
#[case::google_oauth_access_token(SecretKind::ServiceToken, "$ gcloud auth print-access-token\n", format!("ya29.a0A{}", fake_body(160, 150)), "\n")]
#[case::age_secret_key(SecretKind::ServiceToken, "# created: 2026-05-01\n", format!("AGE-SECRET-KEY-1{}", fake_body(161, 58).to_uppercase()), "\n")]
#[case::gitlab_deploy_token(SecretKind::GitlabToken, "password: ", format!("gldt-{}", fake_body(151, 20)), "\n")]
#[case::gitlab_runner_token(SecretKind::GitlabToken, "token = \"", format!("glrt-{}", fake_body(152, 20)), "\"")]
#[case::gitlab_runner_token_with_routing(SecretKind::GitlabToken, "register with ", format!("glrt-t1_{}", fake_body(153, 20)), " now")]
#[case::gitlab_ci_job_token(SecretKind::GitlabToken, "CI_JOB_TOKEN ", format!("glcbt-64_{}", fake_body(154, 20)), " ok")]
#[case::gitlab_trigger_token(SecretKind::GitlabToken, "curl -F token=", format!("glptt-{}", fake_body(155, 40)), " https://gitlab.example.com")]
#[case::slack_app_token(SecretKind::SlackToken, "SLACK_APP_TOKEN=", format!("xapp-1-A{}-{}-{}", fake_body(156, 10).to_uppercase(), "4812345678901", fake_body(157, 64).to_lowercase()), "\n")]
#[case::slack_bot_token(SecretKind::SlackToken, "SLACK_BOT=", format!("xox{}-{}-{}-{}", "b", "1234567890", "1234567890123", fake_body(16, 24)), "")]
#[case::slack_webhook(SecretKind::SlackWebhook, "post to https://hooks.slack.com/services/", format!("T{}/B{}/{}", "0123ABCD", "4567EFGH", fake_body(17, 24)), " now")]
#[case::google_api_key(SecretKind::GoogleApiKey, "key=", format!("AIza{}", fake_body(18, 35)), "&q=x")]
#[case::stripe_live_key(SecretKind::StripeKey, "stripe ", format!("sk_{}_{}", "live", fake_body(19, 24)), "")]
#[case::stripe_restricted_key(SecretKind::StripeKey, "", format!("rk_{}_{}", "live", fake_body(20, 24)), "")]
#[case::stripe_test_key(SecretKind::StripeKey, "STRIPE=", format!("sk_{}_{}", "test", fake_body(21, 24)), "")]
#[case::jwt(SecretKind::Jwt, "cookie value ", format!("eyJ{}.eyJ{}.{}", "hbGciOiJIUzI1NiJ9", "zdWIiOiIxMjM0NTY3ODkwIn0", fake_body(22, 43)), " end")]
#[case::url_password(SecretKind::UrlPassword, "DATABASE_URL=postgres://admin:", format!("S3cr{}", fake_body(23, 12)), "@db.internal:5432/app")]
#[case::url_password_in_git_remote(SecretKind::UrlPassword, "https://alice:", "hunter2pass".to_owned(), "@git.example.com/org/repo.git")]
#[case::bearer_header(SecretKind::BearerToken, "Authorization: Bearer ", fake_body(24, 40).to_lowercase(), "\n")]
#[case::bearer_header_lowercase(SecretKind::BearerToken, "authorization: bearer ", format!("{}.{}", fake_body(25, 10), fake_body(26, 10)), "")]
#[case::basic_auth_header(SecretKind::BearerToken, "-H 'Authorization: Basic ", "YWxpY2U6aHVudGVyMg==".to_owned(), "'")]
#[case::bare_bearer_token(SecretKind::BearerToken, "send Bearer ", format!("{}9", fake_body(27, 30)), " as header")]
#[case::env_assignment(SecretKind::SecretAssignment, "DB_PASSWORD=", "hunter2hunter2".to_owned(), "\n")]
#[case::env_assignment_short_password(SecretKind::SecretAssignment, "export PGPASSWORD=", "pa55".to_owned(), "")]
#[case::yaml_assignment(SecretKind::SecretAssignment, "  password: ", "correct-horse-9".to_owned(), "\n  user: bob")]
#[case::json_assignment(SecretKind::SecretAssignment, "{\"api_key\": \"", "abc123xyz".to_owned(), "\"}")]
#[case::python_kwarg(SecretKind::SecretAssignment, "client(client_secret='", "Zx9-unit-fake-77".to_owned(), "')")]
#[case::cli_flag(SecretKind::SecretAssignment, "mysql --password ", "s3cr3t!pass".to_owned(), " -u root")]
#[case::cli_flag_with_equals(SecretKind::SecretAssignment, "tool --api-key=", "k3y-f0r-tests".to_owned(), "")]
#[case::camel_case_name(SecretKind::SecretAssignment, "{\"refreshToken\":\"", "r3fr3sh-f4ke".to_owned(), "\"}")]
#[case::weak_key_name_with_random_value(
    SecretKind::SecretAssignment,
    "ENCRYPTION_SALT_KEY=",
    fake_body(28, 24),
    ""
)]
#[case::numeric_password_of_eight_digits(SecretKind::SecretAssignment, "PIN_PASSWORD=", "12345678".to_owned(), "")]
#[case::header_style_api_key(SecretKind::SecretAssignment, "x-api-key: ", "k3y0nly4t3sts".to_owned(), "\r\n")]
#[case::cookie_header(SecretKind::SecretAssignment, "Cookie: ", "sessionid=q7m0AbC9xYz".to_owned(), "; theme=dark")]
#[case::url_password_with_empty_user(SecretKind::UrlPassword, "REDIS_URL=redis://:", format!("wDVm{}", fake_body(40, 20)), "@cache:6379/0")]
#[case::bare_value_with_ampersand(SecretKind::SecretAssignment, "PASSWORD=", "Tr0ub4dor&3xyz".to_owned(), "\n")]
#[case::bare_value_with_semicolon(SecretKind::SecretAssignment, "DB_PASS=", "p@ss;w0rd!2024".to_owned(), " ")]
#[case::django_secret_key(SecretKind::SecretAssignment, "SECRET_KEY=", "0h9+nyw)t1fd&k2$x!m4(zq8%vb".to_owned(), "\n")]
#[case::bare_value_ending_a_sentence(SecretKind::SecretAssignment, "set API_TOKEN=", "f4k3t0k3nv4lu3".to_owned(), ", then run")]
#[case::json_nested_twice(SecretKind::SecretAssignment, "{\\\"client_secret\\\": \\\"", "Zq8m2Lx0pV7nR4tY1wK9sB3c".to_owned(), "\\\"}")]
#[case::token_before_a_redirect_url(
    SecretKind::SecretAssignment,
    "GET /cb?access_token=",
    fake_body(77, 14),
    "&redirect_uri=https://app.example.com/home"
)]
#[case::token_before_a_placeholder_word(
    SecretKind::SecretAssignment,
    "curl -d 'x' https://h/?token=",
    fake_body(77, 14),
    "&mode=replace"
)]
#[case::key_before_another_assignment(
    SecretKind::SecretAssignment,
    "api_key=",
    fake_body(77, 14),
    ",your_app=1"
)]
#[case::sendgrid_key(SecretKind::ServiceToken, "SENDGRID=", format!("SG.{}.{}", fake_body(41, 22), fake_body(42, 43)), "\n")]
#[case::atlassian_token_longer_than_a_high_entropy_run(SecretKind::ServiceToken, "jira token ", format!("ATATT3xFfGF0{}={}", fake_body(43, 170), "1A2B3C4D"), " ok")]
#[case::pypi_token(SecretKind::ServiceToken, "password = ", format!("pypi-AgEIcHlwaS5vcmc{}", fake_body(44, 150)), "\n")]
#[case::npm_token(SecretKind::ServiceToken, "//registry.npmjs.org/:_authToken=", format!("npm_{}", fake_body(45, 36)), "\n")]
#[case::hugging_face_token(SecretKind::ServiceToken, "login with ", format!("hf_{}", fake_body(46, 34)), " now")]
#[case::digitalocean_hex_token(SecretKind::ServiceToken, "doctl auth init -t ", format!("dop_v1_{}", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"), "")]
#[case::shopify_hex_token(SecretKind::ServiceToken, "X-Shopify-Access-Token: ", format!("shp{}_{}", "at", "3f786850e387550fdab836ed7e6dc881"), "")]
#[case::databricks_hex_token(SecretKind::ServiceToken, "host=x ", format!("dapi{}", "0a1b2c3d4e5f60718293a4b5c6d7e8f9"), " set")]
#[case::netrc_one_line(SecretKind::SecretAssignment, "machine api.example.com login bob password ", "hunter".to_owned(), "\n")]
#[case::netrc_lines_json_escaped(SecretKind::SecretAssignment, "{\"output\":\"machine github.com\\n  login alice\\n  password ", "Gh7-not-real".to_owned(), "\\n\"}")]
#[case::mysql_attached_password(SecretKind::SecretAssignment, "mysql -h db -u root -p", "S3cretPw".to_owned(), " app < dump.sql")]
#[case::mysqldump_quoted_password(SecretKind::SecretAssignment, "mysqldump -uroot -p'", "pa ss!9".to_owned(), "' app")]
#[case::sshpass(SecretKind::SecretAssignment, "sshpass -p '", "Hunter2isBad".to_owned(), "' ssh deploy@host")]
#[case::redis_cli(SecretKind::SecretAssignment, "redis-cli -h cache -a ", "r3d1s-pass".to_owned(), " ping")]
#[case::curl_user(SecretKind::SecretAssignment, "curl -sS -u admin:", "Adm1nPass".to_owned(), " https://ci.example.com/api")]
#[case::docker_login(SecretKind::SecretAssignment, "docker login -u bot -p ", "dckr-pw-77".to_owned(), " registry.example.com")]
#[case::netrc_quoted_password(SecretKind::SecretAssignment, "machine a.example.com login u password \"", "Pw with space9".to_owned(), "\"")]
#[case::netrc_login_with_backslash(SecretKind::SecretAssignment, "machine a.example.com login CORP\\alice password ", "plainword".to_owned(), "")]
#[case::netrc_default_entry(SecretKind::SecretAssignment, "default login anonymous password ", "guestpass".to_owned(), "")]
#[case::curl_in_json_after_escaped_quotes(SecretKind::SecretAssignment, "{\"command\":\"curl -H \\\"Accept: application/json\\\" -u admin:", "Adm1nPass".to_owned(), " https://x\"}")]
#[case::curl_after_line_continuations(SecretKind::SecretAssignment, "curl -sS \\\n  -u admin:", "Adm1nPass".to_owned(), " \\\n  https://x")]
#[case::curl_after_a_query_string(SecretKind::SecretAssignment, "curl \"https://x/api?a=1&b=2\" -u admin:", "Adm1nPass".to_owned(), "")]
#[case::curl_combined_short_flags(SecretKind::SecretAssignment, "curl -su admin:", "Adm1nPass".to_owned(), " https://x")]
#[case::curl_proxy_user(SecretKind::SecretAssignment, "curl --proxy-user bob:", "Adm1nPass".to_owned(), " https://x")]
#[case::curl_quoted_user_and_password(SecretKind::SecretAssignment, "curl -u 'admin:", "pw with spaces".to_owned(), "' https://x")]
#[case::sshpass_after_another_option(SecretKind::SecretAssignment, "sshpass -v -p ", "Hunt3r-x".to_owned(), " ssh host")]
#[case::docker_login_attached(SecretKind::SecretAssignment, "docker login -u bot -p", "dckrpass".to_owned(), " registry.example.com")]
#[case::podman_login(SecretKind::SecretAssignment, "podman login -u bot -p ", "P0dman-pw".to_owned(), " quay.io")]
#[case::helm_registry_login(SecretKind::SecretAssignment, "helm registry login r.example.com -u bot -p ", "H3lm-pw".to_owned(), "")]
#[case::mysqlbinlog(SecretKind::SecretAssignment, "mysqlbinlog -uroot -p", "binlogpw".to_owned(), " mysql-bin.000001")]
#[case::mysql_in_json_after_escaped_quotes(SecretKind::SecretAssignment, "{\"cmd\":\"mysql -h \\\"db\\\" -uroot -p", "S3cretPw".to_owned(), "\"}")]
#[case::redis_cli_in_json(SecretKind::SecretAssignment, "{\"cmd\":\"redis-cli -h \\\"c\\\" -a ", "r3d1s-pass".to_owned(), "\"}")]
#[case::mysql_after_a_json_escaped_line_break(SecretKind::SecretAssignment, "{\"command\":\"cd /app\\nmysql -uroot -p", "S3cretPw".to_owned(), "\"}")]
#[case::mysql_after_a_json_escaped_tab(SecretKind::SecretAssignment, "echo hi\\tmysql -uroot -p", "S3cretPw".to_owned(), "")]
#[case::curl_after_a_json_escaped_line_break(SecretKind::SecretAssignment, "{\"command\":\"cd /app\\ncurl -u admin:", "S3cretPw".to_owned(), "\"}")]
#[case::netrc_second_entry_json_escaped(SecretKind::SecretAssignment, "machine a.example.com\\nlogin bob\\npassword S3cretPw\\nmachine b.example.com\\nlogin bob\\npassword ", "hunter".to_owned(), "\\n")]
#[case::netrc_default_after_an_escape(SecretKind::SecretAssignment, "x\\ndefault login bob password ", "hunter".to_owned(), "")]
#[case::netrc_one_word_host(SecretKind::SecretAssignment, "machine myhost login bob password ", "hunter".to_owned(), "")]
#[case::compose_healthcheck_list(SecretKind::SecretAssignment, "test: [\"CMD\", \"redis-cli\", \"-a\", \"", "S3cretPw".to_owned(), "\", \"ping\"]")]
#[case::mysqladmin_list(SecretKind::SecretAssignment, "[\"CMD\",\"mysqladmin\",\"ping\",\"-uroot\",\"-p", "S3cretPw".to_owned(), "\"]")]
#[case::sshpass_list(SecretKind::SecretAssignment, "subprocess.run([\"sshpass\",\"-p\",\"", "S3cretPw".to_owned(), "\",\"ssh\",\"h\"])")]
#[case::curl_list(SecretKind::SecretAssignment, "subprocess.run([\"curl\",\"-u\",\"admin:", "S3cretPw".to_owned(), "\",url])")]
#[case::sshpass_lowercase_password(SecretKind::SecretAssignment, "sshpass -p ", "hunter".to_owned(), " ssh h")]
#[case::redis_cli_default_password(SecretKind::SecretAssignment, "redis-cli -a ", "foobared".to_owned(), " ping")]
#[case::docker_login_lowercase_password(SecretKind::SecretAssignment, "docker login -u bob -p ", "secretpass".to_owned(), " r.io")]
#[case::curl_single_quoted_password(SecretKind::SecretAssignment, "curl -u admin:'", "S3cret Pw".to_owned(), "' https://x")]
#[case::curl_double_quoted_password(SecretKind::SecretAssignment, "curl -u admin:\"", "S3cret Pw".to_owned(), "\" https://x")]
#[case::curl_quoted_user_and_quoted_password(SecretKind::SecretAssignment, "curl -u \"admin\":\"", "S3cretPw".to_owned(), "\" https://x")]
#[case::echo_into_password_stdin(SecretKind::SecretAssignment, "echo '", "S3cretPw".to_owned(), "' | docker login -u bot --password-stdin ghcr.io")]
#[case::echo_bare_into_password_stdin(SecretKind::SecretAssignment, "echo ", "ghcrPw2024".to_owned(), " | sudo docker login ghcr.io -u bot --password-stdin")]
#[case::printf_into_password_stdin(SecretKind::SecretAssignment, "printf '%s' \"", "S3cret Pw".to_owned(), "\" | helm registry login r.io -u bot --password-stdin")]
#[case::echo_n_json_escaped(SecretKind::SecretAssignment, "{\"cmd\":\"echo -n \\\"", "S3cretPw".to_owned(), "\\\" | podman login -u u --password-stdin quay.io\"}")]
#[case::here_string_into_password_stdin(SecretKind::SecretAssignment, "docker login -u bot --password-stdin ghcr.io <<< '", "S3cretPw".to_owned(), "'")]
#[case::here_string_bare(SecretKind::SecretAssignment, "oras login r.io -u bot --password-stdin <<<", "S3cretPw".to_owned(), "")]
#[case::htpasswd_batch(SecretKind::SecretAssignment, "htpasswd -b /etc/nginx/.htpasswd admin ", "S3cretPw".to_owned(), "")]
#[case::htpasswd_create_batch_bcrypt(SecretKind::SecretAssignment, "sudo htpasswd -cbB -C 12 .htpasswd admin '", "S3cret Pw".to_owned(), "'")]
#[case::htpasswd_stdout(SecretKind::SecretAssignment, "htpasswd -nb admin ", "S3cretPw".to_owned(), "")]
#[case::htpasswd_stdout_then_more(SecretKind::SecretAssignment, "htpasswd -nbB admin ", "S3cretPw".to_owned(), " > creds")]
#[case::smbclient_user_percent(SecretKind::SecretAssignment, "smbclient //fs/share -U 'CORP\\alice%", "S3cret Pw".to_owned(), "' -c ls")]
#[case::smbclient_bare(SecretKind::SecretAssignment, "smbclient -L fs -U alice%", "S3cretPw".to_owned(), "")]
#[case::rpcclient_long_flag(SecretKind::SecretAssignment, "rpcclient --user=alice%", "S3cretPw".to_owned(), " dc01")]
#[case::netrc_password_before_login(SecretKind::SecretAssignment, "machine api.example.com password ", "S3cretPw".to_owned(), " login bot")]
#[case::netrc_password_before_login_on_lines(SecretKind::SecretAssignment, "machine h.example.com\n  password \"", "S3cret Pw".to_owned(), "\"\n  login bot\n")]
#[case::htpasswd_cost_in_the_cluster(SecretKind::SecretAssignment, "htpasswd -nbBC 10 admin ", "S3cretPw".to_owned(), "")]
#[case::htpasswd_cost_in_a_cluster_with_a_file(SecretKind::SecretAssignment, "htpasswd -bBC 10 .htpasswd admin ", "S3cretPw".to_owned(), "")]
#[case::htpasswd_empty_user(SecretKind::SecretAssignment, "htpasswd -nbBC 10 \"\" ", "S3cretPw".to_owned(), " | tr -d ':\\n'")]
#[case::htpasswd_json_list(SecretKind::SecretAssignment, "[\"htpasswd\", \"-Bbn\", \"admin\", \"", "S3cretPw".to_owned(), "\"]")]
#[case::stdin_after_sudo_with_a_flag(SecretKind::SecretAssignment, "echo ", "S3cretPw".to_owned(), " | sudo -E docker login -u bot --password-stdin ghcr.io")]
#[case::stdin_through_ssh(SecretKind::SecretAssignment, "echo ", "S3cretPw".to_owned(), " | ssh build01 docker login -u bot --password-stdin ghcr.io")]
#[case::stdin_after_an_env_assignment(SecretKind::SecretAssignment, "echo ", "S3cretPw".to_owned(), " | DOCKER_CONFIG=/tmp/x docker login -u bot --password-stdin ghcr.io")]
#[case::stdin_after_a_line_continuation(SecretKind::SecretAssignment, "echo \"", "S3cretPw".to_owned(), "\" | \\\n  docker login ghcr.io -u bot --password-stdin")]
#[case::stdin_flag_after_a_line_continuation(SecretKind::SecretAssignment, "echo \"", "S3cretPw".to_owned(), "\" | docker login ghcr.io \\\n  -u bot --password-stdin")]
#[case::stdin_in_a_folded_yaml_block(SecretKind::SecretAssignment, "run: >\n  echo \"", "S3cretPw".to_owned(), "\" |\n  docker login -u x --password-stdin")]
#[case::regctl_pass_stdin(SecretKind::SecretAssignment, "echo ", "S3cretPw".to_owned(), " | regctl registry login r.io -u bot --pass-stdin")]
#[case::cosign_password_stdin(SecretKind::SecretAssignment, "echo ", "S3cretPw".to_owned(), " | cosign login r.io -u bot --password-stdin")]
#[case::printf_format_json_escaped(SecretKind::SecretAssignment, "{\"cmd\":\"printf '%s\\\\n' \\\"", "S3cretPw".to_owned(), "\\\" | docker login -u bot --password-stdin r.io\"}")]
#[case::sqlcmd_flag_without_value_right_before(SecretKind::SecretAssignment, "sqlcmd -S db -U sa -p -P ", "S3cretPw".to_owned(), " -Q \"select 1\"")]
#[case::mongosh_quoted_uri(SecretKind::SecretAssignment, "mongosh \"mongodb://db:27017\" -u admin -p ", "S3cretPw".to_owned(), " --authenticationDatabase admin")]
#[case::keytool_quoted_path(SecretKind::SecretAssignment, "keytool -srckeystore \"/opt/keytool/a.p12\" -srcstorepass ", "S3cretA".to_owned(), "")]
#[case::docker_login_quoted_host(SecretKind::SecretAssignment, "docker login \"docker.io\" -u bob -p ", "S3cretPw".to_owned(), "")]
#[case::smbclient_joined_flag(SecretKind::SecretAssignment, "smbclient -Ualice%", "S3cretPw".to_owned(), " //fs/share")]
#[case::smbclient_quoted_after_percent(SecretKind::SecretAssignment, "smbclient //10.0.0.5/C$ -U administrator%'", "P@ssw0rd!".to_owned(), "'")]
#[case::smbclient_json_list(SecretKind::SecretAssignment, "[\"smbclient\", \"//fs/share\", \"-U\", \"alice%", "S3cretPw".to_owned(), "\"]")]
#[case::netrc_password_then_login_plain_word(SecretKind::SecretAssignment, "machine github.com password ", "hunterpass".to_owned(), " login bot")]
#[case::pgpass_after_cat(SecretKind::SecretAssignment, "$ cat ~/.pgpass\nlocalhost:5432:*:postgres:", "S3cretPw".to_owned(), "\n")]
#[case::pgpass_echoed_into_the_file(SecretKind::SecretAssignment, "echo \"db.internal:5432:app:app_user:", "S3cretPw".to_owned(), "\" >> ~/.pgpass && chmod 600 ~/.pgpass")]
#[case::pgpass_json_escaped(SecretKind::SecretAssignment, "{\"output\":\"cat ~/.pgpass\\ndb:5432:app:u:", "S3cretPw".to_owned(), "\\n\"}")]
#[case::pgpass_escaped_colon(SecretKind::SecretAssignment, "~/.pgpass:\n*:*:*:replicator:", "S3cret\\:Pw".to_owned(), "")]
#[case::kubernetes_dockerconfigjson(SecretKind::SecretAssignment, "type: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: ", "eyJhdXRocyI6eyJnaGNyLmlvIjp7ImF1dGgiOiJZbTkwT2xNemNtVjBVSGM9In19fQ==".to_owned(), "\n")]
#[case::kubernetes_dockerconfigjson_in_json(SecretKind::SecretAssignment, "{\"data\":{\".dockerconfigjson\":\"", "eyJhdXRocyI6eyJnaGNyLmlvIjp7ImF1dGgiOiJZbTkwT2xNemNtVjBVSGM9In19fQ==".to_owned(), "\"}}")]
#[case::legacy_dockercfg(SecretKind::SecretAssignment, "data:\n  .dockercfg: ", "eyJnaGNyLmlvIjp7ImF1dGgiOiJZbTkwT2xNemNtVjBVSGM9In19Cg==".to_owned(), "\n")]
#[case::winexe_user_percent(SecretKind::SecretAssignment, "winexe -U 'CORP\\admin%", "S3cret Pw".to_owned(), "' //host cmd")]
#[case::netrc_default_password_first(SecretKind::SecretAssignment, "default password ", "S3cretPw".to_owned(), " login anonymous")]
#[case::docker_host_option_before_login(SecretKind::SecretAssignment, "docker -H tcp://x login -u bob -p ", "S3cretPw".to_owned(), "")]
#[case::docker_config_option_before_login(SecretKind::SecretAssignment, "docker --config d login -u bob -p ", "S3cretPw".to_owned(), "")]
#[case::skopeo_login(SecretKind::SecretAssignment, "skopeo login -u bob -p ", "S3cretPw".to_owned(), " quay.io")]
#[case::sshpass_option_with_a_value(SecretKind::SecretAssignment, "sshpass -P assword: -p ", "S3cretPw".to_owned(), " ssh h")]
#[case::mysql_after_sudo(SecretKind::SecretAssignment, "$ sudo mysql -uroot -p", "S3cretPw".to_owned(), " app")]
#[case::mysql_after_an_env_assignment(SecretKind::SecretAssignment, "LANG=C mysql -uroot -p", "S3cretPw".to_owned(), "")]
#[case::then_keyword(
    SecretKind::SecretAssignment,
    "if true; then mysql -uroot -p",
    fake_body(900, 12),
    "; fi"
)]
#[case::do_keyword(
    SecretKind::SecretAssignment,
    "for h in a b; do curl -u admin:",
    fake_body(900, 12),
    " https://x; done"
)]
#[case::until_keyword(
    SecretKind::SecretAssignment,
    "until mysqladmin ping -uroot -p",
    fake_body(900, 12),
    "; do sleep 1; done"
)]
#[case::while_not(
    SecretKind::SecretAssignment,
    "while ! redis-cli -a ",
    fake_body(900, 12),
    " ping; do sleep 1; done"
)]
#[case::brace_group(
    SecretKind::SecretAssignment,
    "{ mysql -uroot -p",
    fake_body(900, 12),
    "; }"
)]
#[case::docker_exec(
    SecretKind::SecretAssignment,
    "docker exec -it db mysql -uroot -p",
    fake_body(900, 12),
    " app"
)]
#[case::docker_compose_exec(
    SecretKind::SecretAssignment,
    "docker compose exec db mysql -uroot -p",
    fake_body(900, 12),
    ""
)]
#[case::kubectl_exec(
    SecretKind::SecretAssignment,
    "kubectl exec -it mysql-0 -- mysql -uroot -p",
    fake_body(900, 12),
    ""
)]
#[case::ssh_remote_command(
    SecretKind::SecretAssignment,
    "ssh host mysql -uroot -p",
    fake_body(900, 12),
    ""
)]
#[case::makefile_recipe(
    SecretKind::SecretAssignment,
    "backup:\n\t@mysqldump -uroot -p",
    fake_body(900, 12),
    " app > dump.sql"
)]
#[case::github_actions_run(
    SecretKind::SecretAssignment,
    "    - run: curl -u admin:",
    fake_body(900, 12),
    " https://x"
)]
#[case::dockerfile_run(
    SecretKind::SecretAssignment,
    "RUN mysql -uroot -p",
    fake_body(900, 12),
    " < init.sql"
)]
#[case::crontab(
    SecretKind::SecretAssignment,
    "0 2 * * * mysqldump -uroot -p",
    fake_body(900, 12),
    " app"
)]
#[case::markdown_list(
    SecretKind::SecretAssignment,
    "- curl -u admin:",
    fake_body(900, 12),
    " https://x"
)]
#[case::numbered_list(
    SecretKind::SecretAssignment,
    "1. redis-cli -a ",
    fake_body(900, 12),
    " ping"
)]
#[case::shell_history(
    SecretKind::SecretAssignment,
    "  501  curl -u admin:",
    fake_body(900, 12),
    " https://x"
)]
#[case::absolute_path(
    SecretKind::SecretAssignment,
    "/usr/bin/mysqldump -uroot -p",
    fake_body(900, 12),
    " app"
)]
#[case::relative_path(
    SecretKind::SecretAssignment,
    "./redis-cli -a ",
    fake_body(900, 12),
    " ping"
)]
#[case::nice(
    SecretKind::SecretAssignment,
    "nice -n 19 mysqldump -uroot -p",
    fake_body(900, 12),
    " app"
)]
#[case::timeout(
    SecretKind::SecretAssignment,
    "timeout 10 redis-cli -a ",
    fake_body(900, 12),
    " ping"
)]
#[case::sudo_as_user(
    SecretKind::SecretAssignment,
    "sudo -u mysql mysql -uroot -p",
    fake_body(900, 12),
    ""
)]
#[case::sudo_from_a_pipe(
    SecretKind::SecretAssignment,
    "echo pw | sudo -S mysql -uroot -p",
    fake_body(900, 12),
    ""
)]
#[case::windows_prompt(
    SecretKind::SecretAssignment,
    "C:\\Users\\bob>mysql -uroot -p",
    fake_body(900, 12),
    ""
)]
#[case::windows_exe(
    SecretKind::SecretAssignment,
    "curl.exe -u admin:",
    fake_body(900, 12),
    " https://x"
)]
#[case::substitution_before_the_flag(
    SecretKind::SecretAssignment,
    "mysql -h $(hostname) -uroot -p",
    fake_body(900, 12),
    ""
)]
#[case::json_escaped_tabs(
    SecretKind::SecretAssignment,
    "{\"cmd\":\"mysql\\t-uroot\\t-p",
    fake_body(900, 12),
    "\"}"
)]
#[case::password_word_with_digits(SecretKind::SecretAssignment, "mysql -uroot -p", "Password123!".to_owned(), " app")]
#[case::my_password_with_digits(SecretKind::SecretAssignment, "mysql -uroot -p", "MyPassword2024".to_owned(), "")]
#[case::numeric_mysql_password(SecretKind::SecretAssignment, "mysql -uroot -p", "123456".to_owned(), " app")]
#[case::numeric_redis_password(SecretKind::SecretAssignment, "redis-cli -a ", "12345678".to_owned(), " ping")]
#[case::capitals_and_digits_password(SecretKind::SecretAssignment, "redis-cli -a ", "X7K9Q2M4".to_owned(), " ping")]
#[case::netrc_login_after_a_glued_machine_word(SecretKind::SecretAssignment, "xmachine a.example.com login bob password ", "S3cretPw".to_owned(), "")]
#[case::kubernetes_env_quoted(
    SecretKind::SecretAssignment,
    "env:\n- name: DB_PASSWORD\n  value: \"",
    fake_body(910, 12),
    "\""
)]
#[case::kubernetes_env_bare(
    SecretKind::SecretAssignment,
    "- name: API_TOKEN\n  value: ",
    fake_body(911, 12),
    "\n"
)]
#[case::compose_flag_list_item(
    SecretKind::SecretAssignment,
    "command: [\"redis-server\", \"--requirepass\", \"",
    fake_body(912, 12),
    "\"]"
)]
#[case::redis_prompt_auth(SecretKind::SecretAssignment, "127.0.0.1:6379> AUTH ", "foobared".to_owned(), "\nOK")]
#[case::redis_config_set(
    SecretKind::SecretAssignment,
    "CONFIG SET requirepass ",
    fake_body(914, 12),
    ""
)]
#[case::redis_conf(SecretKind::SecretAssignment, "masterauth ", fake_body(915, 12), "\n")]
#[case::php_define(
    SecretKind::SecretAssignment,
    "define( 'DB_PASSWORD', '",
    fake_body(916, 12),
    "' );"
)]
#[case::xml_element(
    SecretKind::SecretAssignment,
    "<server><password>",
    fake_body(917, 12),
    "</password></server>"
)]
#[case::xml_key_value(
    SecretKind::SecretAssignment,
    "<add key=\"SmtpPassword\" value=\"",
    fake_body(918, 12),
    "\" />"
)]
#[case::token_as_url_user(SecretKind::UrlPassword, "origin\thttps://", "9a8b7c6d5e4f30211203f4e5d6c7b8a99a8b7c6d".to_owned(), "@github.com/org/repo.git (fetch)")]
#[case::sqlcmd(
    SecretKind::SecretAssignment,
    "sqlcmd -S db -U sa -P '",
    fake_body(919, 12),
    "'"
)]
#[case::mongosh(
    SecretKind::SecretAssignment,
    "mongosh --host db -u admin -p ",
    fake_body(920, 12),
    ""
)]
#[case::keytool(
    SecretKind::SecretAssignment,
    "keytool -list -keystore ks.jks -storepass ",
    fake_body(921, 12),
    ""
)]
#[case::ldapsearch(
    SecretKind::SecretAssignment,
    "ldapsearch -x -D cn=admin,dc=example -w ",
    fake_body(922, 12),
    " -b dc=example"
)]
#[case::mysql_after_prose_run(SecretKind::SecretAssignment, "To connect run mysql -h db -u app -p", "W1nterIsComing2026".to_owned(), " shop")]
#[case::curl_after_prose_use(SecretKind::SecretAssignment, "Use curl -u admin:", "W1nterIsComing2026".to_owned(), " https://x")]
#[case::redis_cli_after_prose_try(SecretKind::SecretAssignment, "If that fails, try redis-cli -a ", "W1nterIsComing2026".to_owned(), " ping")]
#[case::sshpass_after_prose_with(SecretKind::SecretAssignment, "deploy with sshpass -p ", "W1nterIsComing2026".to_owned(), " ssh host")]
#[case::docker_login_after_prose_via(SecretKind::SecretAssignment, "log in via docker login -u bot -p ", "W1nterIsComing2026".to_owned(), " r.io")]
#[case::mysqldump_after_prose_execute(SecretKind::SecretAssignment, "Then execute mysqldump -uroot -p", "W1nterIsComing2026".to_owned(), " app")]
#[case::mysql_after_prose_type(SecretKind::SecretAssignment, "Type mysql -uroot -p", "W1nterIsComing2026".to_owned(), " and press enter")]
#[case::mysql_after_prose_and(SecretKind::SecretAssignment, "Stop the app and mysql -uroot -p", "W1nterIsComing2026".to_owned(), " app < fix.sql")]
#[case::sudo_mysql_after_prose_or(SecretKind::SecretAssignment, "Or sudo mysql -uroot -p", "W1nterIsComing2026".to_owned(), "")]
#[case::mysql_after_a_colon_in_prose(SecretKind::SecretAssignment, "To connect: mysql -uroot -p", "W1nterIsComing2026".to_owned(), " shop")]
#[case::echo_into_sudo_stdin(SecretKind::SecretAssignment, "echo '", "W1nterIsComing2026".to_owned(), "' | sudo -S systemctl restart api")]
#[case::echo_into_sudo_stdin_after_its_options(SecretKind::SecretAssignment, "echo ", "W1nterIsComing2026".to_owned(), " | sudo -u root -kS apt-get update")]
#[case::printf_into_sudo_long_stdin(SecretKind::SecretAssignment, "printf '%s\\n' \"", "W1nterIsComing2026".to_owned(), "\" | sudo --stdin -p '' ls")]
#[case::here_string_into_sudo_stdin(SecretKind::SecretAssignment, "sudo -S -p '' systemctl restart api <<< '", "W1nterIsComing2026".to_owned(), "'")]
#[case::az_login(SecretKind::SecretAssignment, "az login -u ops@example.com -p ", "W1nterIsComing2026".to_owned(), "")]
#[case::docker_login_continued_onto_more_lines(SecretKind::SecretAssignment, "docker ps\nlazy hazard\ndocker login registry.example.com \\\n  -u ci \\\r\n  -p ", "W1nterIsComing2026".to_owned(), "\ndocker ps")]
#[case::docker_login_after_commands_without_login(SecretKind::SecretAssignment, "docker build -t app .\ndocker push app\nhelm list\ndocker login -u bot -p ", "W1nterIsComing2026".to_owned(), " r.io")]
#[case::az_login_service_principal(SecretKind::SecretAssignment, "az login --service-principal -u http://app -p '", "W1nterIsComing2026".to_owned(), "' --tenant t1")]
#[case::az_login_long_flag(SecretKind::SecretAssignment, "az login -u ops@example.com --password ", "W1nterIsComing2026".to_owned(), "")]
#[case::az_login_long_flag_with_equals(SecretKind::SecretAssignment, "az login -u ops@example.com --password=", "W1nterIsComing2026".to_owned(), "")]
#[case::az_acr_login(SecretKind::SecretAssignment, "az acr login -n myreg -u bot -p ", "W1nterIsComing2026".to_owned(), "")]
#[case::openssl_enc_k(SecretKind::SecretAssignment, "openssl enc -d -aes-256-cbc -k ", "W1nterIsComing2026".to_owned(), " -in backup.enc")]
#[case::openssl_pass_pass(SecretKind::SecretAssignment, "openssl enc -aes-256-cbc -pbkdf2 -pass pass:", "W1nterIsComing2026".to_owned(), " -in a -out a.enc")]
#[case::openssl_passin(SecretKind::SecretAssignment, "openssl rsa -in key.pem -passin pass:", "W1nterIsComing2026".to_owned(), " -out plain.pem")]
#[case::openssl_passout_quoted_whole(SecretKind::SecretAssignment, "openssl genrsa -aes256 -passout \"pass:", "W1nter Is2026".to_owned(), "\" 4096")]
#[case::openssl_passout_quoted_after_pass(SecretKind::SecretAssignment, "openssl req -new -passout pass:'", "W1nter Is2026".to_owned(), "' -keyout k.pem")]
#[case::openssl_pkcs12_password(SecretKind::SecretAssignment, "openssl pkcs12 -export -in c.pem -password pass:", "W1nterIsComing2026".to_owned(), " -out c.p12")]
#[case::openssl_passout_after_a_passin_from_the_environment(SecretKind::SecretAssignment, "openssl pkcs12 -in a.p12 -passin env:P12_PW -passout pass:", "W1nterIsComing2026".to_owned(), "")]
#[case::openssl_json_list(SecretKind::SecretAssignment, "[\"openssl\", \"rsa\", \"-passin\", \"pass:", "W1nterIsComing2026".to_owned(), "\"]")]
#[case::net_ads_join(SecretKind::SecretAssignment, "net ads join -U administrator%", "W1nterIsComing2026".to_owned(), "")]
#[case::net_rpc_quoted(SecretKind::SecretAssignment, "sudo net rpc join -U 'CORP\\admin%", "W1nter Is2026".to_owned(), "' -S dc01")]
#[case::htpasswd_as_an_entrypoint(SecretKind::SecretAssignment, "docker run --entrypoint htpasswd httpd:2 -Bbn user ", "W1nterIsComing2026".to_owned(), " > auth/htpasswd")]
#[case::htpasswd_as_an_entrypoint_among_options(SecretKind::SecretAssignment, "docker run --rm -v \"$PWD\":/w --entrypoint=htpasswd registry:2.7 -Bbn testuser ", "W1nterIsComing2026".to_owned(), "")]
#[case::htpasswd_as_a_podman_entrypoint_with_a_file(SecretKind::SecretAssignment, "podman run --rm --entrypoint htpasswd -v /x:/x httpd -Bb /x/.htpasswd admin '", "W1nter Is2026".to_owned(), "'")]
#[case::sqlplus(SecretKind::SecretAssignment, "sqlplus scott/", "T1ger#2024".to_owned(), "@orclpdb1 @report.sql")]
#[case::sqlplus_silent(SecretKind::SecretAssignment, "sqlplus -s app_user/", "Pa55word9".to_owned(), "@//db:1521/svc")]
#[case::gh_secret(SecretKind::SecretAssignment, "gh secret set DEPLOY_KEY --body \"", "sk9Ab-3kd92LmQ".to_owned(), "\"")]
#[case::gh_secret_repo(SecretKind::SecretAssignment, "gh secret set API_TOKEN -R me/app -b ", "t0k3n-value-42".to_owned(), "")]
#[case::ssm_secure_string(SecretKind::SecretAssignment, "aws ssm put-parameter --name /prod/db/password --type SecureString --value '", "Pr0d-DB!pass".to_owned(), "'")]
#[case::powershell_secure_string(SecretKind::SecretAssignment, "$pw = ConvertTo-SecureString \"", "Winter2024!Pw".to_owned(), "\" -AsPlainText -Force")]
#[case::npm_token_space_form(SecretKind::SecretAssignment, "npm config set //registry.npmjs.org/:_authToken ", "npm0abcdef123456".to_owned(), "")]
#[case::yarn_token(SecretKind::SecretAssignment, "yarn config set npmAuthToken ", "abc123def456ghi7".to_owned(), "")]
#[case::zip_password(SecretKind::SecretAssignment, "zip -r -P ", "Arch1ve!pw".to_owned(), " backup.zip data/")]
#[case::unzip_password_quoted(SecretKind::SecretAssignment, "unzip -o -P '", "Arch1ve pw9".to_owned(), "' backup.zip")]
#[case::seven_zip_glued(SecretKind::SecretAssignment, "7z a -t7z -mhe=on -p", "S3venZip!pw".to_owned(), " secrets.7z docs/")]
#[case::seven_zip_quoted(SecretKind::SecretAssignment, "7z x secrets.7z -p\"", "S3ven Zip9".to_owned(), "\" -oout")]
#[case::twine_upload(SecretKind::SecretAssignment, "twine upload -u __token__ -p ", "Tw1ne-upl0ad-pw".to_owned(), " dist/*")]
#[case::lftp_user_password(SecretKind::SecretAssignment, "lftp -u deploy,", "Ftp!Pass2024".to_owned(), " sftp://files.example.com")]
#[case::lftp_quoted(SecretKind::SecretAssignment, "lftp -e 'mirror -R' -u 'deploy,", "Ftp Pass2024".to_owned(), "' ftp.example.com")]
#[case::httpie_auth(SecretKind::SecretAssignment, "http -a admin:", "H77pie!pw".to_owned(), " POST api.example.com/items name=x")]
#[case::httpie_long_flag(SecretKind::SecretAssignment, "https --auth=ops:", "H77pie-pw-2".to_owned(), " example.org/admin")]
#[case::poetry_http_basic(SecretKind::SecretAssignment, "poetry config http-basic.private ci-bot ", "P0etry!pw".to_owned(), "")]
#[case::setx_secret(SecretKind::SecretAssignment, "setx DB_PASSWORD \"", "S3tx!Passw0rd".to_owned(), "\" /M")]
#[case::powershell_environment_variable(SecretKind::SecretAssignment, "[Environment]::SetEnvironmentVariable(\"API_TOKEN\", \"", "tok-9f8e7d6c5b4a".to_owned(), "\", \"User\")")]
#[case::expect_send(SecretKind::SecretAssignment, "spawn ssh admin@db\nexpect \"password:\"\nsend \"", "Exp3ct!pw".to_owned(), "\\r\"\ninteract")]
#[case::table_row_after_a_description_cell(SecretKind::SecretAssignment, "| Database password | DB_PASSWORD | ", "hunter2Xyz".to_owned(), " |")]
#[case::poetry_http_basic_quoted_user(SecretKind::SecretAssignment, "poetry config http-basic.private \"ci bot\" ", "P0etry!pw".to_owned(), "")]
#[case::poetry_pypi_token(SecretKind::SecretAssignment, "poetry config pypi-token.private ", "Po3tryT0kenXyz".to_owned(), "")]
#[case::expect_send_after_a_partial_prompt(SecretKind::SecretAssignment, "expect \"*assword:\"\nsend \"", "Exp3ct!pw".to_owned(), "\\r\"")]
#[case::expect_send_in_a_block_after_yes_no(SecretKind::SecretAssignment, "expect {\n  \"yes/no\" { send \"yes\\r\"; exp_continue }\n  \"password:\" { send \"", "Exp3ct!pw".to_owned(), "\\r\" }\n}")]
#[case::exp_send_with_a_newline(SecretKind::SecretAssignment, "expect -re \"\\[Pp\\]assword\"\nexp_send \"", "Exp3ct!pw".to_owned(), "\\n\"")]
#[case::seven_zip_7zz(SecretKind::SecretAssignment, "7zz a -p", "S3venZip!pw".to_owned(), " out.7z dir")]
#[case::seven_zip_quoted_exe(SecretKind::SecretAssignment, "& \"C:\\Program Files\\7-Zip\\7z.exe\" a -p", "S3venZip!pw".to_owned(), " out.7z")]
#[case::setx_machine_flag_first(SecretKind::SecretAssignment, "setx /M DB_PASSWORD ", "S3tx!Passw0rd".to_owned(), "")]
#[case::setx_quoted_name(SecretKind::SecretAssignment, "setx \"DB_PASSWORD\" \"", "S3tx!Passw0rd".to_owned(), "\"")]
#[case::expect_send_json_escaped(SecretKind::SecretAssignment, "expect \\\"Enter passphrase\\\" { send \\\"", "Exp3ct-phrase9".to_owned(), "\\\\r\\\" }")]
#[case::high_entropy_token(
    SecretKind::HighEntropy,
    "the value ",
    fake_body(29, 40),
    " was printed"
)]
#[case::high_entropy_token_after_json_escape(
    SecretKind::HighEntropy,
    "\"output\":\"line\\n",
    fake_body(30, 48),
    "\\n\""
)]
fn real_format_secret_is_redacted_with_its_kind(
    #[case] kind: SecretKind,
    #[case] before: &str,
    #[case] secret: String,
    #[case] after: &str,
) {
    let text = format!("{before}{secret}{after}");
    let out = redactor().redact(&text);
    assert!(
        !out.text.contains(&secret),
        "raw secret survived: {}",
        out.text
    );
    assert!(
        out.text.contains(kind.marker()),
        "no {kind} marker in: {}",
        out.text
    );
    let start = before.len();
    let end = start + secret.len();
    assert!(
        out.findings
            .iter()
            .any(|f| f.kind == kind && f.start <= start && end <= f.end),
        "no {kind} finding covering {start}..{end}: {:?}",
        out.findings
    );
    assert!(!redactor().is_clean(&text));
    let again = redactor().redact(&out.text);
    assert_eq!(again.text, out.text, "not idempotent");
    assert!(matches!(again.text, Cow::Borrowed(_)));
}

#[rstest]
#[case::openssh(pem_block("OPENSSH PRIVATE KEY", 6))]
#[case::rsa(pem_block("RSA PRIVATE KEY", 8))]
#[case::ec(pem_block("EC PRIVATE KEY", 3))]
#[case::pkcs8(pem_block("PRIVATE KEY", 4))]
#[case::encrypted_pkcs8(pem_block("ENCRYPTED PRIVATE KEY", 4))]
#[case::pgp(pem_block("PGP PRIVATE KEY BLOCK", 5))]
fn multi_line_private_key_block_is_redacted_whole(#[case] block: String) {
    let text = format!("cat ~/.ssh/id_key\n{block}\n$ echo done\n");
    let out = redactor().redact(&text);
    assert_eq!(
        out.text,
        "cat ~/.ssh/id_key\n[REDACTED:private-key]\n$ echo done\n"
    );
    assert_eq!(out.findings.len(), 1);
}

#[test]
fn truncated_private_key_block_is_redacted_to_the_end_of_its_body() {
    let block = pem_block("RSA PRIVATE KEY", 5);
    let cut = block.find("-----END").unwrap();
    let text = format!("tail: {}", &block[..cut]);
    let out = redactor().redact(&text);
    assert_eq!(out.text, "tail: [REDACTED:private-key]");
}

/// A host that cuts a long output in the middle of a key block leaves its note there; the key
/// lines after the note are still the key's.
#[rstest]
#[case::codex_note("\n…2000 tokens truncated…\n")]
#[case::bracket_note("\n[... 12 lines omitted ...]\n")]
fn a_private_key_cut_by_a_truncation_note_is_redacted_past_it(#[case] note: &str) {
    let block = pem_block("RSA PRIVATE KEY", 6);
    let lines: Vec<&str> = block.lines().collect();
    let text = format!(
        "$ cat id_rsa\n{}{note}{}\n",
        lines[..3].join("\n"),
        lines[4..].join("\n")
    );
    let out = redactor().redact(&text);
    for line in &lines[1..lines.len() - 1] {
        assert!(!out.text.contains(line), "{line} survived in {}", out.text);
    }
    assert!(
        out.text.starts_with("$ cat id_rsa\n[REDACTED:private-key]"),
        "{}",
        out.text
    );
}

/// A base64 secret holds `/`: in a URL it is not cut into pieces too short to redact.
#[rstest]
#[case::query_signature("https://example.com/x?sig=", "&e=1")]
#[case::url_userinfo("s3://AKIA:", "@bucket/key")]
#[case::path("curl https://api.example.com/v1/objects/", "")]
#[case::not_a_go_checksum("oauth1:", "")]
fn a_secret_with_slashes_in_a_url_is_redacted_whole(#[case] before: &str, #[case] after: &str) {
    let (a, b) = (fake_body(21, 18), fake_body(22, 22));
    let secret = if before == "oauth1:" {
        fake_body(29, 40)
    } else {
        format!("{a}/{b}")
    };
    let text = format!("{before}{secret}{after}");
    let out = redactor().redact(&text);
    for piece in secret.split('/') {
        assert!(
            !out.text.contains(piece),
            "{piece} survived in {}",
            out.text
        );
    }
}

/// In a URL, a high-entropy run spans path segments; only the random one is redacted.
#[test]
fn an_id_in_a_url_is_redacted_without_its_host_and_path_words() {
    let id = fake_body(41, 44);
    let text = format!("open https://docs.google.com/spreadsheets/d/{id}/edit#gid=0 now");
    let out = redactor().redact(&text);
    assert_eq!(
        out.text,
        "open https://docs.google.com/spreadsheets/d/[REDACTED:high-entropy]/edit#gid=0 now"
    );
    // After a blank of more than one byte (an ideographic space), the same.
    let text = format!("见\u{3000}https://docs.google.com/spreadsheets/d/{id}/edit 好");
    assert_eq!(
        redactor().redact(&text).text,
        "见\u{3000}https://docs.google.com/spreadsheets/d/[REDACTED:high-entropy]/edit 好"
    );
    // The path words alone are not secret.
    let path = "see https://example.com/aaaaaaaa/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb/c";
    assert!(redactor().is_clean(path));
}

#[test]
fn private_key_inside_json_escaped_string_is_redacted_without_breaking_json() {
    let block = pem_block("OPENSSH PRIVATE KEY", 4);
    let line = serde_json::to_string(&json!({"type": "tool_output", "output": block})).unwrap();
    let out = redact(&line);
    let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        parsed,
        json!({"type": "tool_output", "output": "[REDACTED:private-key]"})
    );
}

#[rstest]
#[case::git_sha("commit 3f786850e387550fdab836ed7e6dc881de23001b (HEAD -> main)")]
#[case::go_sum_hash("golang.org/x/net v0.38.0 h1:1B4b9Rwxk2LZnm0bfXQFkpz3Tn7Jql3mQ8kEvR8Xx7Q=")]
#[case::secretary_field("secretary: Jane\nphone: 555")]
#[case::go_sum_line_start("h1:1B4b9Rwxk2LZnm0bfXQFkpz3Tn7Jql3mQ8kEvR8Xx7Q=")]
#[case::short_git_shas("merged a1b2c3d and 0123456789ab into main")]
#[case::uuid("session 550e8400-e29b-41d4-a716-446655440000 started")]
#[case::sha256_digest("sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")]
#[case::png_data_uri(
    "![x](data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==)"
)]
#[case::npm_integrity(
    "\"integrity\": \"sha512-Q7mXb3KpYr9Lw2Zt5Hn8Vc1Jd4Fs6Gq0Ue3Ro7Ia2Mk5Ny8Tb1Wl4Ex6Cf9Dg0Hj3Pk7Ls2Qm5Rn8Sv1Ty4Uw7Xz0Ab+/Cd==\""
)]
#[case::unix_path("/Users/alice/projects/csep/src/archive/redact_tests.rs:42:7")]
#[case::windows_path(r"C:\Users\bob\AppData\Local\Programs\codex\codex-x86_64-pc-windows.exe")]
#[case::github_url("see https://github.com/openai/codex/blob/main/codex-rs/core/src/lib.rs")]
#[case::url_with_port("curl https://example.com:8080/api/v1/items?page=2&sort=asc")]
#[case::url_with_user_only("git clone https://alice@github.com/org/repo.git")]
#[case::scp_style_remote("git@github.com:org/repo.git")]
#[case::sk_inside_words("task-sk-learning-rate-schedule-2024 on my desk-lamp")]
#[case::sk_prefixed_prose("sk-learning-rate-schedule-for-transformers")]
#[case::semver("bumped csep 0.26.0 -> 1.2.3-beta.4+build.5678, rust-version 1.85")]
#[case::numeric_config_for_secret_name("PASSWORD_MIN_LENGTH=8\nTOKEN_TTL=3600\nAUTH_TIMEOUT=30s")]
#[case::token_count_field("{\"type\":\"token_count\",\"token_count\":1234,\"max_tokens\":4096}")]
#[case::rust_env_lookup("let api_key = env::var(\"OPENAI_API_KEY\")?;")]
#[case::python_env_lookup("api_key = os.environ[\"OPENAI_API_KEY\"]")]
#[case::js_env_lookup("const token = process.env.GITHUB_TOKEN;")]
#[case::rust_field_types("pub struct Cfg { pub api_key: Option<String>, token: &str }")]
#[case::python_signature("def login(user: str, password: str = None) -> Token:")]
#[case::identifier_values("token = access_token\nsecret = CLIENT_SECRET\npassword = self.password")]
#[case::markdown("## API keys\n\n- Set **OPENAI_API_KEY** in your shell.\n- | name | type |\n")]
#[case::chinese("请把密钥放在环境变量里，不要提交到仓库。令牌过期了，请重新登录。")]
#[case::placeholder_ellipsis("OPENAI_API_KEY=sk-...")]
#[case::placeholder_angle("api_key: <your-api-key>")]
#[case::placeholder_env_reference("export OPENAI_API_KEY=$OPENAI_API_KEY")]
#[case::placeholder_bearer_env("curl -H \"Authorization: Bearer $TOKEN\" https://api.example.com")]
#[case::placeholder_actions_secret("token: ${{ secrets.GITHUB_TOKEN }}")]
#[case::placeholder_aws_key("AWS_ACCESS_KEY_ID=AKIAXXXXXXXXXXXXXXXX")]
#[case::placeholder_your_token("GITHUB_TOKEN=your_token_here")]
#[case::placeholder_sk_x("sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")]
#[case::prose_bearer("Bearer tokens expire after an hour; refresh them.")]
#[case::prose_token_colon("Token: expired because the session ended")]
#[case::prose_password_sentence("The password is stored in the keychain.")]
#[case::codex_item_ids("call_AbC123dEf456GhI789jKl0 rs_68c8e9f1a2b4819190d7f1c3e5a7b9d1")]
#[case::claude_item_ids("toolu_01A09q90qw90lq917835lq9 msg_01XFDUDYJgAACzvnptvVoYEL")]
#[case::working_directory_env("PWD=/home/alice/projects/csep\nOLDPWD=/tmp")]
#[case::structured_cache_key("cache_key = \"user:42:profile\"")]
#[case::json_schema_for_password("\"password\": {\"type\": \"string\", \"minLength\": 8}")]
#[case::boolean_auth("auth: true\nrequire_auth = false")]
#[case::camel_case_identifier(
    "ThisIsAVeryLongCamelCaseIdentifierName2 AbstractSingletonProxyFactoryBean2024v1x"
)]
#[case::snake_case_test_name("test_redact_handles_AWS_keys_in_json_2024_v2_and_more_cases")]
#[case::password_flag_reads_stdin("docker login --password-stdin ghcr.io")]
#[case::prose_token_then_word("the token expired yesterday and --token is a flag")]
#[case::keyboard_word("keyboard: us-intl, monkey: banana")]
#[case::netrc_prose("Log in with your login name, then the password reset link.")]
#[case::login_then_password_words("login as admin password required")]
#[case::netrc_placeholder("machine api.example.com login bob password $NETRC_PASSWORD")]
#[case::mysql_password_prompt("mysql -u root -p app_db")]
#[case::mysql_port_flag("mysql -h db -P 3306 --protocol=tcp")]
#[case::mysql_password_from_env("mysqldump -u root -p$MYSQL_PWD app")]
#[case::curl_user_only("curl -u admin https://ci.example.com/api")]
#[case::docker_login_stdin_short("docker login -u bot --password-stdin registry.example.com")]
#[case::end_of_public_key_block("abc\n-----END PUBLIC KEY-----")]
#[case::hf_prose("hf_hub_download(repo_id=x) and hf_transfer")]
#[case::npm_words("npm_config_cache and npm_lifecycle_event")]
#[case::default_password_prose("By default password authentication is enabled.")]
#[case::default_login_prose("The default login is admin and the default password is admin.")]
#[case::default_over_a_line_break("Keep the default\npassword policy in place")]
#[case::machine_prose("Each machine uses password authentication")]
#[case::virtual_machine_prose("the virtual machine root password is in the vault")]
#[case::mysql_in_a_path("find /var/lib/mysql -name '*.ibd' -print -perm -644 -prune")]
#[case::mysql_in_a_port_forward("ssh -L 3306:mysql:3306 -p2222 bastion")]
#[case::docker_port_mapping("docker run --name mysql -d -p3306:3306 mysql:8")]
#[case::mysql_man_page("mysql options: -p, --password[=name]")]
#[case::mysql_usage("Usage: mysql -u user -p[password] db_name")]
#[case::mysql_in_markdown("Run **mysql -u root -p** and type it")]
#[case::mysql_in_parentheses("(see mysql -u root -p)")]
#[case::mysql_ending_a_sentence("Then run mysql -p.")]
#[case::sshpass_prose("Avoid sshpass -p because it leaks")]
#[case::docker_login_prose("docker login -p is deprecated, use --password-stdin")]
#[case::redis_cli_prose("redis-cli -a is insecure; use AUTH")]
#[case::curl_as_a_method("var a=mysql.connect({h:1}); b.curl -u x:y;")]
#[case::curl_placeholder_password("curl -u username:pass https://api.example.com")]
#[case::curl_variables("curl -u \"$USER:$PASS\" https://api.example.com")]
#[case::hf_identifier("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(x)")]
#[case::docker_words("docker compose up; docker push registry.example.com/app:1.2 -q")]
#[case::short_lines_before_an_end_line("ok\nAbCd==\n-----END PRIVATE KEY-----")]
#[case::mysql_config_in_a_substitution("gcc a.c $(mysql_config --cflags --libs) -pthread")]
#[case::mysql_as_a_find_argument("find . -name mysql -prune -o -print")]
#[case::mysql_as_a_grep_pattern("grep -r mysql . -l -print0")]
#[case::mysql_as_a_pod("kubectl logs mysql -previous")]
#[case::mysql_as_a_formula("brew install mysql -pinned")]
#[case::another_command_after_a_semicolon("mysqldump db;cp -pR dump.sql /bak")]
#[case::another_command_after_a_pipe("mysql db|perl -pe 's/a/b/'")]
#[case::docker_port_mapping_with_an_address(
    "docker run --name mysql -p127.0.0.1:3306:3306 -d mysql:8"
)]
#[case::python_building_a_command("subprocess.run(\"mysql -u root -p\" + password + \" app\")")]
#[case::python_building_a_command_single_quotes("os.system('mysql -u root -p' + pw)")]
#[case::js_building_an_sshpass_command("\"sshpass -p \" + pw + \" ssh host\"")]
#[case::prose_ending_in_punctuation("Don't use sshpass -p anymore.")]
#[case::machine_prose_with_a_host(
    "on machine prod.example.com password authentication is disabled"
)]
#[case::machine_prose_with_a_host_and_to(
    "Set the machine web01.example.com password to something strong"
)]
#[case::machine_port_prose("machine localhost port 8080 password forgotten")]
#[case::failed_login_prose("Failed login root password 3 times")]
#[case::sort_after_a_pipe("curl -s https://x|sort -u key:value")]
#[case::grep_after_a_pipe("redis-cli monitor >log;tail -f log|grep -a Err0r")]
#[case::curl_as_a_grep_pattern("grep curl -A3 log.txt -u x:Y1z")]
#[case::curl_doc_placeholders(
    "curl -u EMAIL:API_TOKEN https://x and curl -u myuser:mypassword https://x"
)]
#[case::docker_login_doc_placeholder("docker login -u bob -p GITHUB_PAT ghcr.io")]
#[case::mysql_doc_placeholder("mysql -uroot -pMYPASSWORD")]
#[case::a_later_command_in_markdown("Run `mysql -u root -p` to log in, then `cp -pr src dst`")]
#[case::a_later_command_after_a_code_span("`redis-cli monitor` and `cp -a build dist`")]
#[case::a_later_docker_run("After `docker login ghcr.io` run `docker run -p \"8080:80\" app`")]
#[case::a_later_sort("`curl https://x` then `sort -u data:set`")]
#[case::default_login_prose_with_a_word("By default login root password is not set")]
#[case::default_login_prose_mid_line("The default login admin password prompt appears")]
#[case::netrc_doc_placeholder("machine example.com login myusername password mypassword")]
#[case::sshpass_option_without_a_value("sshpass -e ssh -p 2222 host")]
#[case::curl_user_agent("curl --user-agent=x:y https://x")]
#[case::rust_path_after_a_secret_name("let secret_key = SecretKey::from_slice(&bytes)?;")]
#[case::helm_existing_secret(
    "existingSecret: redis-auth\nexistingSecretPasswordKey: redis-password"
)]
#[case::ssh_fingerprint("256 SHA256:Xy7mQ2kLp9RtV4nB8cZ1dF6gH3jK5sW0aE2uI9oP7qM u@host (ED25519)")]
#[case::kubernetes_secret_ref(
    "- name: DB_PASSWORD\n  valueFrom:\n    secretKeyRef:\n      name: db"
)]
#[case::xml_placeholder("<password>${DB_PASSWORD}</password>")]
#[case::auth_prose("AUTH is required before any command")]
#[case::mongo_port_flag("mongosh --port 27017 --host db")]
#[case::plist_key("<key>NSAppTransportSecurity</key><key>CFBundleIdentifier</key>")]
#[case::php_define_from_the_environment("define('DB_PASSWORD', getenv('DB_PASSWORD'));")]
#[case::php_define_a_constant("define('PASSWORD_HASH_ALGO', PASSWORD_ARGON2ID);")]
#[case::xml_token_from_the_environment("<authToken>GITHUB_TOKEN</authToken>")]
#[case::requirepass_prose(
    "The requirepass directive sets a password; if requirepass is set, AUTH first."
)]
#[case::requirepass_log_line("# Warning: no config file specified, requirepass not set")]
#[case::auth_prose_in_a_quote("> AUTH is deprecated in favor of HELLO")]
#[case::smtp_auth_mechanism("AUTH CRAM-MD5")]
#[case::url_user_names(
    "https://contoso-engineering-2021@dev.azure.com/x and postgres://analytics_reader_2024@db:5432/w"
)]
#[case::yaml_flag_bullets("args:\n- --disable-auth\n- server\n- --cookie-samesite\n- Strict")]
#[case::echo_a_variable_into_password_stdin(
    "echo \"$CR_PAT\" | docker login ghcr.io -u bot --password-stdin"
)]
#[case::echo_without_password_stdin("echo hello | docker login -u bot ghcr.io")]
#[case::echo_a_placeholder_into_password_stdin(
    "echo YOUR_TOKEN | docker login -u bot --password-stdin"
)]
#[case::a_command_into_password_stdin(
    "aws ecr get-login-password | docker login --username AWS --password-stdin 1.dkr.ecr.us-east-1.amazonaws.com"
)]
#[case::here_string_variable("docker login --password-stdin <<< \"$TOKEN\"")]
#[case::htpasswd_without_batch("htpasswd -c /etc/nginx/.htpasswd admin")]
#[case::htpasswd_delete("htpasswd -D .htpasswd admin")]
#[case::htpasswd_placeholder("htpasswd -nb admin <password>")]
#[case::smbclient_without_password("smbclient //fs/share -U alice -c ls")]
#[case::smbclient_variable("smbclient //fs/share -U alice%$SMB_PASS")]
#[case::machine_learning_prose("a machine learning password manager login flow")]
#[case::machine_account_password_prose(
    "Windows rotates the machine account password (every 30 days by default)."
)]
#[case::machine_account_password_quoted_word(
    "Reset the machine account password \"automatically\" with Reset-ComputerMachinePassword."
)]
#[case::machine_account_password_setting("machine account password MaxAge=30")]
#[case::netrc_template_in_ruby("file.puts \"machine #{host} password #{token}\"")]
#[case::keytool_flags_in_prose(
    "keytool -importkeystore -srcstorepass is the source password and -deststorepass sets the destination one"
)]
#[case::keytool_flags_in_prose_2(
    "keytool -storepass is required and -keypass defaults to the store password"
)]
#[case::masked_secret_in_a_ci_log("echo \"***\" | docker login ghcr.io -u x --password-stdin")]
#[case::stdin_examples(
    "echo \"[token]\" | docker login -u x --password-stdin; echo mytoken | docker login --password-stdin; echo my-token | docker login --password-stdin"
)]
#[case::keytool_values_naming_their_flags("keytool -storepass storepass -keypass keypass")]
#[case::colon_fields_without_pgpass("10:15:22:007:INFO started\nfe80:0:0:0:1ff:fe23:4567:890a")]
#[case::pgpass_format_doc("Each ~/.pgpass line is hostname:port:database:username:password")]
#[case::numbers_near_pgpass("PGPASSFILE=~/.pgpass psql -c 'select 1'\n12:30:45:100:200\n")]
#[case::pgpass_from_the_environment("echo \"db:5432:app:app:$PGPASSWORD\" > ~/.pgpass")]
#[case::dockerconfigjson_type_name(
    "type: kubernetes.io/dockerconfigjson and .dockerconfigjson: {{ .Values.pull }}"
)]
#[case::prose_flag_after_run("run mysql with -p to be prompted")]
#[case::prose_flag_after_use_and_a_comma("Use mysql -p, then type the password")]
#[case::find_argument_after_use("Then use find . -name mysql -prune to skip it")]
#[case::pod_name_after_run("run kubectl logs mysql -previous")]
#[case::formula_after_use("use brew install mysql -pinned")]
#[case::sshpass_prose_after_use("Never use sshpass -p because it leaks")]
#[case::redis_cli_prose_after_use("Don't use redis-cli -a in scripts")]
#[case::sql_use_statement("mysql> use mysql; select user from user -- and mysql -p")]
#[case::docker_port_mapping_after_prose(
    "run it with docker run --name mysql -d -p3306:3306 mysql:8"
)]
#[case::echo_a_variable_into_sudo_stdin("echo \"$SUDO_PASS\" | sudo -S systemctl restart api")]
#[case::echo_a_mask_into_sudo_stdin("echo '***' | sudo -S ls; echo mypassword | sudo -S ls")]
#[case::echo_into_sudo_without_stdin("echo Build2024 | sudo tee /etc/motd && sudo -S ls")]
#[case::sudo_stdin_flag_of_another_command("echo Build2024 | sudo systemctl -S x")]
#[case::here_string_variable_into_sudo_stdin("sudo -S ls <<< \"$PW\"")]
#[case::az_words("az login --use-device-code; az account show -p is not a flag")]
#[case::az_in_words("Amazon and lazy -p S3cretPw login")]
#[case::az_login_variable("az login -u ops@example.com -p \"$AZ_PASS\"")]
#[case::openssl_password_sources(
    "openssl enc -aes-256-cbc -pass env:BACKUP_PW -in a; openssl rsa -passin file:pw.txt -passout stdin; openssl req -passin fd:3"
)]
#[case::openssl_key_file("openssl enc -d -aes-256-cbc -kfile key.txt -in backup.enc")]
#[case::openssl_other_flags("openssl s_client -connect h:443 -servername h -showcerts")]
#[case::openssl_pass_placeholder("openssl rsa -passin pass:$KEY_PW -passout pass:password")]
#[case::openssl_flag_prose("openssl enc -k is insecure, prefer -pass env:VAR")]
#[case::net_without_a_password("net ads join -U administrator; net use Z: \\\\fs\\share")]
#[case::net_prose("the net result -U x%y is an example")]
#[case::dotnet("dotnet test -U a%b")]
#[case::htpasswd_entrypoint_without_batch(
    "docker run --rm --entrypoint htpasswd httpd:2 -c /x/.htpasswd admin"
)]
#[case::htpasswd_after_another_entrypoint("docker run --entrypoint sh httpd:2 -c 'htpasswd -h'")]
#[case::existing_markers("api_key=[REDACTED:openai-key] token=[REDACTED] [REDACTED:jwt]")]
#[case::no_default("DB_PASSWORD=${DB_PASSWORD}")]
#[case::empty_default("DB_PASSWORD=${DB_PASSWORD:-}")]
#[case::placeholder_default("DB_PASSWORD=${DB_PASSWORD:-changeme}")]
#[case::member_metadata("config.password.length = 12")]
#[case::file_name_key("file: secrets.yaml")]
#[case::type_column("| password | string | required |")]
#[case::description("| API_TOKEN | The token to use |")]
#[case::placeholder("| DB_PASSWORD | `<your password>` |")]
#[case::header("| Name | Value |\n|---|---|\n| token_ttl | 3600 |")]
#[case::ssm_plain_string(
    "aws ssm put-parameter --name /prod/app/region --type String --value eu-west-1"
)]
#[case::gh_variable("gh variable set REGION --body eu-west-1")]
#[case::secret_set_not_by_gh("vault kv secret set -b later")]
#[case::secret_set_after_a_word_ending_in_gh("sigh secret set --body Xq7v9Lm2pR")]
#[case::gh_secret_from_file("gh secret set DEPLOY_KEY < key.txt")]
#[case::gh_secret_variable("gh secret set TOKEN --body \"$TOKEN\"")]
#[case::sqlplus_os_auth("sqlplus / as sysdba")]
#[case::powershell_read("$pw = Read-Host -AsSecureString | ConvertTo-SecureString")]
#[case::npm_get("npm config get _authToken")]
#[case::signature_flag("https://example.com/api?sig=true&page=2")]
#[case::signature_placeholder(
    "https://acct.blob.core.windows.net/c/f?sv=2022-11-02&sig=<signature>"
)]
#[case::signature_doc_placeholder("append ?sig=YOUR_SIGNATURE_HERE to the URL")]
#[case::signature_word("the signature=verified line in the log")]
#[case::unzip_to_a_pipe("unzip -p release.zip notes.txt | head")]
#[case::zip_without_a_password("zip -r -9 backup.zip data/ && unzip -l backup.zip")]
#[case::seven_zip_prompts("7z a -p secrets.7z docs/")]
#[case::seven_zip_variable("7z a -p\"$ARCHIVE_PW\" secrets.7z docs/")]
#[case::twine_password_variable("twine upload -u __token__ -p \"$PYPI_TOKEN\" dist/*")]
#[case::lftp_user_only("lftp -u deploy sftp://files.example.com")]
#[case::httpie_user_prompts("http -a admin: POST api.example.com/items")]
#[case::httpie_variable("http -a \"admin:$API_PW\" api.example.com")]
#[case::url_then_a_flag("see http://example.com -a note:Shiny2 for details")]
#[case::poetry_other_setting("poetry config virtualenvs.in-project true")]
#[case::setx_path("setx PATH \"%PATH%;C:\\tools\"")]
#[case::setx_secret_from_a_variable("setx DB_PASSWORD %DB_PASSWORD%")]
#[case::setx_weak_name_plain_value("setx CACHE_KEY users")]
#[case::expect_send_without_a_prompt("expect \"$ \"\nsend \"ls -la\\r\"")]
#[case::json_zip_then_grep_perl_regex(
    "{\"command\":\"zip -r out.zip dist\\ngrep -P 'foo' x.txt\"}"
)]
#[case::json_zip_then_rsync_progress(
    "{\"command\":\"zip -r out.zip dist\\nrsync -P dist host:/srv\"}"
)]
#[case::json_seven_zip_then_find_print("{\"command\":\"7z x a.7z -y\\nfind . -print\"}")]
#[case::json_httpie_then_rsync_archive(
    "{\"command\":\"http :8000/health\\nrsync -a web1:backups ./\"}"
)]
#[case::zip_file_name_then_a_flag("wget https://example.com/release.zip -P downloads")]
#[case::http_in_prose("Copy the http logs with rsync -a web1:logs ./logs")]
#[case::expect_send_after_a_password_notice("expect \"Password changed\"\nsend \"exit\\r\"")]
#[case::expect_send_yes_to_a_password_question("expect \"Change password? (y/n)\"\nsend \"y\\r\"")]
#[case::expect_send_after_a_later_prompt(
    "expect \"password:\"\nsend \"$pw\\r\"\nexpect \"$ \"\nsend \"uptime\\r\""
)]
fn look_alike_survives_byte_identical(#[case] text: &str) {
    let out = redactor().redact(text);
    assert_eq!(out.findings, Vec::new(), "in {text:?}");
    assert!(matches!(out.text, Cow::Borrowed(t) if t == text));
    assert!(redactor().is_clean(text));
}

/// An SSH public key (an `authorized_keys` line, `ssh-keygen -y`, `ssh-add -L`) is published
/// by design and survives; the same base64 without its key type is still a high-entropy run.
/// Colored output (`grep --color`, `rg`, `bat`) cuts a secret's name from its value with
/// escapes; they are dropped before redaction, so the assignment is still seen.
#[test]
fn a_secret_in_colored_output_is_redacted() {
    let secret = fake_body(170, 20);
    for text in [
        format!("\u{1b}[01;31m\u{1b}[KDB_PASSWORD\u{1b}[m\u{1b}[K={secret}"),
        format!(
            "\u{1b}[35m.env\u{1b}[0m:\u{1b}[32m3\u{1b}[0m:DB_\u{1b}[1m\u{1b}[31mPASSWORD\u{1b}[0m={secret}"
        ),
        format!(
            "\u{1b}[38;5;197mpassword\u{1b}[0m\u{1b}[38;5;231m: \u{1b}[0m\u{1b}[38;5;186m{secret}\u{1b}[0m"
        ),
    ] {
        let out = redactor().redact(&text);
        assert!(!out.text.contains(&secret), "{text:?} -> {}", out.text);
        assert!(!out.text.contains('\u{1b}'), "{}", out.text);
        assert!(!redactor().is_clean(&text));
    }
    // Colored text without a secret keeps its escapes when only checked.
    assert!(redactor().is_clean("\u{1b}[32mok\u{1b}[0m"));
}

/// A JSON writer that escapes `/` (PHP's default) and a URL password holding an unencoded
/// `@` are redacted whole, not up to the first `\/` or `@`.
#[test]
fn a_secret_with_an_escaped_slash_or_an_at_sign_is_redacted_whole() {
    let tail = fake_body(171, 16);
    let text = format!(
        "{{\"SecretAccessKey\":\"wJalr{}\\/{tail}\"}}",
        fake_body(172, 18)
    );
    let out = redactor().redact(&text);
    assert!(!out.text.contains(&tail), "{}", out.text);
    let tail = fake_body(173, 12);
    let text = format!("postgres://app:Pw9{}@{tail}@db:5432/app", fake_body(174, 6));
    let out = redactor().redact(&text);
    assert!(!out.text.contains(&tail), "{}", out.text);
    assert!(out.text.ends_with("@db:5432/app"), "{}", out.text);
}

/// A wallet's recovery words under their usual names are a secret, however many plain words;
/// a public key under a key-like name is not.
#[test]
fn recovery_words_are_redacted_and_public_keys_are_not() {
    let words =
        "abandon ability able about above absent absorb abstract absurd abuse access accident";
    for text in [
        format!("MNEMONIC=\"{words}\""),
        format!("SEED_PHRASE=\"{words}\""),
        format!("{{\"mnemonic\": \"{words}\"}}"),
    ] {
        let out = redactor().redact(&text);
        assert!(!out.text.contains("abandon"), "{text} -> {}", out.text);
    }
    assert!(redactor().is_clean("search_phrase: \"deploy the api\""));
    for text in [
        format!("Pubkey: {}", fake_body(180, 44)),
        format!("# public key: age1{}", fake_body(181, 58).to_lowercase()),
        format!("public_key = \"{}\"", fake_body(182, 44)),
    ] {
        let out = redactor().redact(&text);
        assert!(
            !out.findings
                .iter()
                .any(|f| f.kind == SecretKind::SecretAssignment),
            "{text} -> {}",
            out.text
        );
    }
}

/// An unquoted value shaped like an identifier is a code reference (`password =
/// self.password`, `token = access_token`) only when its words read like a name's: letters,
/// then perhaps digits.
#[rstest]
#[case::leet_snake("DB_PASSWORD=p4ss_w0rd_2ph1", true)]
#[case::year_then_letter("DB_PASSWORD=summer_2024x", true)]
#[case::dotted_leet("DB_PASSWORD=s3cr3t.v4lue9", true)]
#[case::yaml_leet("database:\n  password: summer_r2w024", true)]
#[case::snake_reference("token = access_token", false)]
#[case::versioned_reference("secret = oauth2_client_secret", false)]
#[case::dotted_reference("password = self.password", false)]
#[case::digest_reference("api_key = sha256_digest", false)]
fn an_identifier_shaped_value_is_a_reference_only_when_its_words_read_as_names(
    #[case] text: &str,
    #[case] redacted: bool,
) {
    assert_eq!(!redactor().is_clean(text), redacted, "{text}");
}

#[test]
fn a_terraform_variable_default_is_redacted_when_its_name_is_a_secret_s() {
    let secret = fake_body(190, 18);
    let text = format!(
        "variable \"db_password\" {{\n  type      = string\n  sensitive = true\n  default   = \"{secret}\"\n}}\n"
    );
    let out = redactor().redact(&text);
    assert!(!out.text.contains(&secret), "{}", out.text);
    assert!(
        out.text
            .contains("default   = \"[REDACTED:secret-assignment]\""),
        "{}",
        out.text
    );
    assert!(redactor().is_clean("variable \"region\" {\n  default = \"eu-west-1\"\n}\n"));
    assert!(redactor().is_clean("variable \"db_password\" {\n  default = var.other\n}\n"));
}

/// Assignment forms redacted in place: the default of a shell expansion (its variable kept), a
/// member or an index by name, a Markdown table row, a pre-signed or SAS URL's signature (the
/// rest of the URL kept; URL-encoded base64 or hex).
#[rstest]
#[case::compose(
    "      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:-Xq7v9Lm2pR}",
    "      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:-[REDACTED:secret-assignment]}"
)]
#[case::export_quoted(
    "export DB_PASSWORD=\"${DB_PASSWORD:-Xq7v9Lm2pR}\"",
    "export DB_PASSWORD=\"${DB_PASSWORD:-[REDACTED:secret-assignment]}\""
)]
#[case::assign_default(
    "API_TOKEN=${API_TOKEN:=Xq7v9Lm2pRt5Kw3Zy8Bn}",
    "API_TOKEN=${API_TOKEN:=[REDACTED:secret-assignment]}"
)]
#[case::member(
    "process.env.DB_PASSWORD = 'Xq7v9Lm2pRt5';",
    "process.env.DB_PASSWORD = '[REDACTED:secret-assignment]';"
)]
#[case::index(
    "os.environ['DB_PASSWORD']='Xq7v9Lm2pRt5'",
    "os.environ['DB_PASSWORD']='[REDACTED:secret-assignment]'"
)]
#[case::index_double_quoted(
    "env[\"API_TOKEN\"] = \"Xq7v9Lm2pRt5Kw3\"",
    "env[\"API_TOKEN\"] = \"[REDACTED:secret-assignment]\""
)]
#[case::plain_cells(
    "| DB_PASSWORD | Xq7v9Lm2pRt5 |",
    "| DB_PASSWORD | [REDACTED:secret-assignment] |"
)]
#[case::backticked_cells(
    "| `API_TOKEN` | `Xq7v9Lm2pRt5Kw3` |",
    "| `API_TOKEN` | `[REDACTED:secret-assignment]` |"
)]
#[case::azure_sas_encoded(
    "https://acct.blob.core.windows.net/c/f.zip?sv=2022-11-02&se=2026-12-01T00%3A00%3A00Z&sr=b&sp=r&sig=kP9xQ%2Bz7Lm2vR4tW8yB3nC6dF1gH5jK0sA9eU2iO%3D",
    "https://acct.blob.core.windows.net/c/f.zip?sv=2022-11-02&se=2026-12-01T00%3A00%3A00Z&sr=b&sp=r&sig=[REDACTED:secret-assignment]"
)]
#[case::s3_presigned(
    "https://bucket.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=3600&X-Amz-Signature=9f3c2a7b4e1d8c6f0a5b3e7d2c9f1a4b6e8d0c3f5a7b9e1d2c4f6a8b0e3d5c7f&X-Amz-SignedHeaders=host",
    "https://bucket.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=3600&X-Amz-Signature=[REDACTED:secret-assignment]&X-Amz-SignedHeaders=host"
)]
#[case::gcs_signed(
    "curl 'https://storage.googleapis.com/b/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Signature=4b7e1a9c3f6d2e8b0a5c7f1d3e9b6a2c8f4d0e7b1a3c5f9d2e6b8a0c4f7d1e3b5a9c2f6'",
    "curl 'https://storage.googleapis.com/b/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Signature=[REDACTED:secret-assignment]'"
)]
fn an_assignment_form_is_redacted_in_place(#[case] text: &str, #[case] expected: &str) {
    assert_eq!(redactor().redact(text).text, expected);
}

#[test]
fn an_ssh_public_key_survives() {
    let body = format!("AAAAC3NzaC1lZDI1NTE5AAAAI{}", fake_body(77, 43));
    for text in [
        format!("ssh-ed25519 {body} dev@laptop"),
        format!(
            "command=\"x\" ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQ{} u@h",
            fake_body(78, 300)
        ),
        format!(
            "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY{}=",
            fake_body(79, 100)
        ),
        format!("sk-ssh-ed25519@openssh.com {body}"),
    ] {
        let out = redactor().redact(&text);
        assert_eq!(out.findings, Vec::new(), "in {text:?}");
    }
    assert!(!redactor().is_clean(&format!("key {body}")));
    assert!(!redactor().is_clean(&format!("not-ssh-ed25519 {body}")));
}

#[test]
fn long_base64_blob_not_assigned_to_a_secret_name_survives() {
    let blob: String = (0..8)
        .map(|i| fake_body(200 + i, 32))
        .collect::<Vec<_>>()
        .join("+/");
    let text = format!("payload: {blob}");
    assert!(matches!(redactor().redact(&text).text, Cow::Borrowed(_)));
}

#[test]
fn public_certificate_block_survives() {
    let cert = pem_block("CERTIFICATE", 6);
    assert!(
        redactor().is_clean(&cert),
        "{:?}",
        redactor().redact(&cert).findings
    );
}

#[test]
fn clean_text_is_borrowed_from_the_input() {
    let text = "cargo test --lib archive::redact passed in 0.4s";
    assert!(matches!(redact(text), Cow::Borrowed(t) if std::ptr::eq(t, text)));
    assert!(matches!(redact(""), Cow::Borrowed("")));
}

#[test]
fn findings_report_byte_offsets_in_the_original_text() {
    let secret = fake_body(40, 36);
    let text = format!(
        "日本 ok GH_TOKEN=gh{}_{secret} and password=hunter2x\n",
        "p"
    );
    let out = redactor().redact(&text);
    let token_start = text.find("ghp_").unwrap();
    let pass_start = text.find("hunter2x").unwrap();
    assert_eq!(
        out.findings,
        vec![
            Finding {
                kind: SecretKind::GithubToken,
                start: token_start,
                end: token_start + 4 + secret.len()
            },
            Finding {
                kind: SecretKind::SecretAssignment,
                start: pass_start,
                end: pass_start + 8
            },
        ]
    );
    assert_eq!(
        out.text,
        "日本 ok GH_TOKEN=[REDACTED:github-token] and password=[REDACTED:secret-assignment]\n"
    );
}

#[test]
fn overlapping_findings_merge_into_the_most_specific_kind() {
    let key = format!("sk-proj-{}", fake_body(41, 40));
    let text = format!("OPENAI_API_KEY={key}");
    let out = redactor().redact(&text);
    assert_eq!(
        out.findings,
        vec![Finding {
            kind: SecretKind::OpenaiKey,
            start: 15,
            end: text.len()
        }]
    );
    assert_eq!(out.text, "OPENAI_API_KEY=[REDACTED:openai-key]");
}

#[test]
fn token_in_url_userinfo_is_redacted_once_with_its_vendor_kind() {
    let token = format!("glpat-{}", fake_body(42, 20));
    let text = format!("git remote add origin https://oauth2:{token}@gitlab.com/org/repo.git");
    let out = redactor().redact(&text);
    assert_eq!(
        out.text,
        "git remote add origin https://oauth2:[REDACTED:gitlab-token]@gitlab.com/org/repo.git"
    );
}

fn mixed_document() -> String {
    format!(
        "export OPENAI_API_KEY=sk-{}\n\
         aws_secret_access_key = {}\n\
         curl -H 'Authorization: Bearer {}' https://x.example.com\n\
         postgres://app:{}@db:5432/app\n\
         {{\"password\": \"hunter2hunter2\", \"note\": \"see {}\"}}\n\
         {}\n",
        fake_body(50, 48),
        fake_body(51, 40),
        fake_body(52, 32),
        fake_body(53, 12),
        fake_body(54, 40),
        pem_block("EC PRIVATE KEY", 2),
    )
}

#[rstest]
#[case::mixed_document(mixed_document())]
#[case::adjacent_secrets(format!("password=ab12cd34 token={} {}", fake_body(55, 33), fake_body(56, 40)))]
#[case::secret_next_to_marker(format!("[REDACTED:jwt]{}", fake_body(57, 40)))]
#[case::secret_glued_to_word(format!("prefix{}", fake_body(58, 40)))]
#[case::command_after_an_assignment_with_a_semicolon("password=p@ss;w0rd mysql -pS3cretPw".to_owned())]
#[case::command_after_a_redacted_assignment("MYSQL_PWD=S3cret mysql -uroot -pS3cretPw app".to_owned())]
#[case::commands_in_json(format!("{{\"cmd\":\"cd /app\\nmysql -uroot -p{} && curl -u a:{} x\"}}", fake_body(59, 12), fake_body(60, 12)))]
#[case::netrc_and_key_tail(format!("machine a.example.com login bob password {}\n{}\n-----END PRIVATE KEY-----", fake_body(61, 12), fake_body(62, 64)))]
#[case::a_repeated_flag("keytool -list -storepass S3cretA -storepass S3cretB".to_owned())]
#[case::a_command_after_prose("To connect run mysql -u app -pW1nterIsComing2026 and curl -u a:W1nter2026x x".to_owned())]
#[case::a_repeated_flag_of_sqlcmd("sqlcmd -S db -U sa -P S3cretPw -P Other1Pw".to_owned())]
fn redaction_is_idempotent(#[case] text: String) {
    let r = redactor();
    let once = r.redact(&text).text.into_owned();
    let twice = r.redact(&once);
    assert_eq!(twice.text, once);
    assert!(twice.findings.is_empty());
    assert!(matches!(twice.text, Cow::Borrowed(_)));
}

#[test]
fn mixed_document_loses_every_raw_secret() {
    let text = mixed_document();
    let out = redact(&text);
    for seed in 50..=54 {
        let len = [48, 40, 32, 12, 40][usize::try_from(seed - 50).unwrap()];
        assert!(
            !out.contains(&fake_body(seed, len)),
            "seed {seed} leaked:\n{out}"
        );
    }
    assert!(!out.contains("hunter2hunter2"));
    assert!(!out.contains("BEGIN EC PRIVATE KEY"));
}

#[test]
fn codex_function_call_arguments_are_redacted_in_the_raw_line_and_as_json() {
    let token = fake_body(60, 40);
    let arguments = serde_json::to_string(&json!({
        "cmd": ["bash", "-lc", format!("curl -H 'Authorization: Bearer {token}' https://api.example.com/v1")],
        "workdir": "/home/alice/csep",
    }))
    .unwrap();
    let mut value = json!({
        "type": "response_item",
        "payload": {"type": "function_call", "name": "shell", "arguments": arguments, "call_id": "call_AbC123dEf456GhI789jKl0"},
    });
    let line = serde_json::to_string(&value).unwrap();

    let redacted_line = redact(&line);
    assert!(!redacted_line.contains(&token));
    let reparsed: serde_json::Value = serde_json::from_str(&redacted_line).unwrap();
    let args = reparsed["payload"]["arguments"].as_str().unwrap();
    let args: serde_json::Value = serde_json::from_str(args).unwrap();
    assert_eq!(
        args["cmd"][2],
        "curl -H 'Authorization: Bearer [REDACTED:bearer-token]' https://api.example.com/v1"
    );

    assert_eq!(redact_json(&mut value), 1);
    assert_eq!(value, reparsed);
}

#[test]
fn redact_json_walks_nested_values_and_secret_named_keys() {
    let gh = format!("gh{}_{}", "o", fake_body(70, 36));
    let mut value = json!({
        "api_key": "abc123xyz",
        "clientSecret": "s",
        "token_count": 1234,
        "max_tokens": "4096",
        "password": "$DB_PASSWORD",
        "auth": {"type": "oauth2", "token": "r3fr3sh-f4ke", "expires_in": 3600},
        "messages": [
            {"role": "user", "content": format!("use {gh} please")},
            {"role": "assistant", "content": "done, commit 3f786850e387550fdab836ed7e6dc881de23001b"},
        ],
        "cache_key": "user:42:profile",
        "api_key_redacted": "[REDACTED:secret-assignment]",
    });
    let count = redact_json(&mut value);
    assert_eq!(
        value,
        json!({
            "api_key": "[REDACTED:secret-assignment]",
            "clientSecret": "[REDACTED:secret-assignment]",
            "token_count": 1234,
            "max_tokens": "4096",
            "password": "$DB_PASSWORD",
            "auth": {"type": "oauth2", "token": "[REDACTED:secret-assignment]", "expires_in": 3600},
            "messages": [
                {"role": "user", "content": "use [REDACTED:github-token] please"},
                {"role": "assistant", "content": "done, commit 3f786850e387550fdab836ed7e6dc881de23001b"},
            ],
            "cache_key": "user:42:profile",
            "api_key_redacted": "[REDACTED:secret-assignment]",
        })
    );
    assert_eq!(count, 4);
    let again = value.clone();
    assert_eq!(redact_json(&mut value), 0);
    assert_eq!(value, again);
}

#[test]
fn redact_json_renames_a_key_that_is_itself_a_secret() {
    let key = format!("gh{}_{}", "p", fake_body(71, 36));
    let mut value = json!({ key: 1 });
    assert_eq!(redact_json(&mut value), 1);
    assert_eq!(value, json!({"[REDACTED:github-token]": 1}));
}

#[rstest]
#[case::three_words("Kmu7 s3cret", true)]
#[case::prose("Enter your password here", false)]
#[case::placeholder("<password>", false)]
#[case::passphrase("correct horse battery staple", true)]
#[case::passphrase_with_digits("my dog rex 1987", true)]
#[case::passphrase_of_short_words("let me in", true)]
#[case::sentence("it is required here.", false)]
#[case::names_a_secret("the secret goes here", false)]
#[case::foreign_ui_string("mot de passe oublié", false)]
#[case::long_message("must be at least eight characters long", false)]
#[case::capitalized_ui_string("Sign in to continue", false)]
fn assignment_value_rule_table(#[case] value: &str, #[case] redacted: bool) {
    let text = format!("password=\"{value}\"");
    assert_eq!(!redactor().is_clean(&text), redacted, "{text}");
}

/// Single quotes keep a `$` literal (shell, YAML, PHP, Python): a value that starts with one
/// is a secret unless it is a variable's name alone, which tools such as compose still expand.
#[rstest]
#[case::env_file("DB_PASSWORD='$3cr3t!Pw9'", true)]
#[case::yaml("password: '$ecret-P@ss42'", true)]
#[case::php_define("define('DB_PASSWORD', '$upers3cret!');", true)]
#[case::double_quotes_expand("DB_PASSWORD=\"$3cr3t!Pw9\"", false)]
#[case::variable("DB_PASSWORD='$DB_PASSWORD'", false)]
#[case::braced_variable("password: '${VAULT_DB_PASSWORD}'", false)]
#[case::command_substitution("DB_PASSWORD='$(pass show db)'", false)]
fn a_single_quoted_dollar_is_literal(#[case] text: &str, #[case] redacted: bool) {
    assert_redacted_or_kept(text, redacted);
}

/// A passphrase of several words is a value wherever a secret-named setting takes it; a
/// capitalized one only where the name is an environment variable's (elsewhere it reads as a
/// UI label).
#[rstest]
#[case::env_assignment("DB_PASSWORD=\"my dog rex 1987\"", true)]
#[case::env_assignment_root("MYSQL_ROOT_PASSWORD=\"let me in\"", true)]
#[case::env_capitalized("DB_PASSWORD=\"Correct Horse Battery\"", true)]
#[case::json_value("{\"password\": \"correct horse battery staple\"}", true)]
#[case::yaml_value("PASSWORD: \"correct horse battery staple\"", true)]
#[case::json_label("{\"password\": \"Sign in to continue\"}", false)]
#[case::json_prompt("{\"password\": \"Enter your password\"}", false)]
fn a_passphrase_of_several_words_is_redacted(#[case] text: &str, #[case] redacted: bool) {
    assert_redacted_or_kept(text, redacted);
}

#[rstest]
#[case::snake_case("AWS_SECRET_ACCESS_KEY", Some(NameStrength::Strong))]
#[case::camel_case("clientSecret", Some(NameStrength::Strong))]
#[case::acronym_camel_case("OpenAIApiKey", Some(NameStrength::Strong))]
#[case::kebab_flag("--api-key", Some(NameStrength::Strong))]
#[case::plural_tokens_is_a_count("max_tokens", None)]
#[case::metadata_word("PASSWORD_MIN_LENGTH", None)]
#[case::key_only("cache_key", Some(NameStrength::Weak))]
#[case::old_pwd_is_not_pwd("OLDPWD", None)]
#[case::tokenizer("tokenizer", None)]
fn secret_names_are_classified_word_by_word(
    #[case] name: &str,
    #[case] strength: Option<NameStrength>,
) {
    assert_eq!(classify_name(name), strength);
}

/// Pieces that make texts near every edge of the seeking rules: secret-like words in any case
/// (and Unicode case look-alikes), separators, quotes, flags, line breaks (real and escaped),
/// runs of base64 bytes of every length around the 32-byte threshold, padding.
fn seek_piece(i: usize, seed: u64) -> String {
    match i {
        0 => "token".into(),
        1 => "PassWord".into(),
        2 => "api_KEY".into(),
        3 => "ſecret \u{212A}ey".into(),
        4 => "=".into(),
        5 => ": ".into(),
        6 => "--auth ".into(),
        7 => "\"".into(),
        8 => "'".into(),
        9 => "\n".into(),
        10 => "\\n".into(),
        11 => " ".into(),
        12 => fake_body(seed, 8),
        13 => fake_body(seed, 31),
        14 => fake_body(seed, 32),
        15 => fake_body(seed, 40),
        16 => "==".into(),
        17 => "cookie.".into(),
        18 => "/".into(),
        19 => "é".into(),
        20 => "\\\"".into(),
        21 => ":=".into(),
        22 => "\t".into(),
        23 => "--".into(),
        _ => "Bearer ".into(),
    }
}

/// Both redactors of the seek tests, built once (compiling the rules is slow in debug builds).
static SEEK_PAIR: LazyLock<(Redactor, Redactor)> =
    LazyLock::new(|| (redactor(), redactor().without_seeks()));

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]
    /// The rules that seek (assignment, high-entropy, key tail) find exactly what a search over every
    /// byte finds.
    #[test]
    fn seeking_finds_exactly_what_a_full_scan_finds(
        pieces in proptest::collection::vec((0usize..30, 0u64..1000), 0..40)
    ) {
        let text: String = pieces.iter().map(|&(i, seed)| seek_piece(i, seed)).collect();
        let (seeking, scanning) = &*SEEK_PAIR;
        proptest::prop_assert_eq!(seeking.find(&text), scanning.find(&text), "text: {:?}", text);
    }
}

#[test]
fn seeking_finds_exactly_what_a_full_scan_finds_in_the_corpora() {
    let (seeking, scanning) = &*SEEK_PAIR;
    for text in [mixed_document(), mixed_document().repeat(3)] {
        assert_eq!(seeking.find(&text), scanning.find(&text));
    }
}

#[test]
fn the_seeked_secret_words_are_the_assignment_pattern_s_and_the_prefilter_s() {
    let words = SECRET_NAME_WORDS.join("|");
    let (_, _, pattern, _) = RULES
        .iter()
        .find(|(name, ..)| *name == "secret-assignment")
        .unwrap();
    assert_eq!(
        pattern.matches(&format!("(?i-u:{words})")).count(),
        2,
        "{pattern}"
    );
    assert!(PREFILTER.contains(&format!("(?i:{words})")), "{PREFILTER}");
}

#[rstest]
#[case::tail_of_a_key_file("$ tail -4 id_rsa\n", "\n", "\n$ ls")]
#[case::tail_in_json_escaped_output("{\"output\":\"", "\\n", "\"}")]
#[case::tail_after_other_text_on_its_line("$ tail -4 mykeyfile ", "\n", "")]
fn the_end_of_a_private_key_without_its_begin_line_is_redacted(
    #[case] before: &str,
    #[case] line_break: &str,
    #[case] after: &str,
) {
    let lines: Vec<String> = (0..4).map(|i| fake_body(200 + i, 64)).collect();
    let body = lines.join(line_break);
    let tail = format!("{body}{line_break}-----END RSA PRIVATE KEY-----");
    let text = format!("{before}{tail}{after}");
    let out = redactor().redact(&text);
    for line in &lines {
        assert!(!out.text.contains(line.as_str()), "{}", out.text);
    }
    assert_eq!(out.text, format!("{before}[REDACTED:private-key]{after}"));
}

#[test]
fn a_word_before_a_key_tail_on_its_own_line_survives() {
    let lines: Vec<String> = (0..3).map(|i| fake_body(300 + i, 64)).collect();
    let text = format!(
        "cat mykeyfile\n{}\n-----END PRIVATE KEY-----",
        lines.join("\n")
    );
    let out = redactor().redact(&text);
    assert_eq!(out.text, "cat mykeyfile\n[REDACTED:private-key]");
}

#[rstest]
#[case::short_last_line("AbCd==", "-----END PRIVATE KEY-----")]
#[case::pgp_checksum_line("=Xy3Q", "-----END PGP PRIVATE KEY BLOCK-----")]
fn a_key_tail_ending_in_a_short_line_is_redacted_whole(#[case] last: &str, #[case] end: &str) {
    let lines: Vec<String> = (0..2).map(|i| fake_body(400 + i, 64)).collect();
    let text = format!("$ tail -3 key\nok\n{}\n{last}\n{end}\n$", lines.join("\n"));
    let out = redactor().redact(&text);
    assert_eq!(out.text, "$ tail -3 key\nok\n[REDACTED:private-key]\n$");
}

#[test]
fn a_command_line_password_stops_at_the_shell_operator_after_it() {
    let out = redactor().redact("mysql -uroot -pS3cretPw;echo done && mysql -pAn0ther<dump.sql");
    assert_eq!(
        out.text,
        "mysql -uroot -p[REDACTED:secret-assignment];echo done && mysql \
         -p[REDACTED:secret-assignment]<dump.sql"
    );
}

#[test]
fn the_command_rules_their_words_and_the_gate_agree() {
    let gate = Regex::new(COMMAND_GATE).unwrap();
    for (name, _, pattern, _) in RULES {
        let words = COMMAND_WORDS.iter().find(|(rule, _)| rule == name);
        // Only a command rule is anchored (it is tried at its words, never scanned).
        assert_eq!(pattern.starts_with('^'), words.is_some(), "{name}");
        let Some((_, words)) = words else { continue };
        assert!(GATED_RULES.contains(name), "{name} is not gated");
        // Every match holds a word that opens the gate: the command word itself (`net` with
        // the blank after it), the `login` a registry login needs after it, or the
        // `htpasswd` entrypoint a container needs.
        for word in words.split('|') {
            let opens = gate.is_match(&format!("{word} "))
                || (*name == "registry-login-password" && gate.is_match(" login"))
                || (*name == "htpasswd-entrypoint-password" && gate.is_match(" htpasswd"));
            assert!(opens, "{name}: {word}");
        }
    }
    // `.netrc` entries need `password`.
    assert!(
        RULES
            .iter()
            .any(|(name, _, pattern, _)| *name == "netrc-password"
                && pattern.contains("password[ \\t]+"))
    );
    assert!(gate.is_match("password"));
}

#[rstest]
#[case::diff_hunk("+", "+-----END RSA PRIVATE KEY-----")]
#[case::ssh2("", "---- END SSH2 ENCRYPTED PRIVATE KEY ----")]
fn a_key_tail_in_a_diff_or_in_ssh2_format_is_redacted(#[case] prefix: &str, #[case] end: &str) {
    let lines: Vec<String> = (0..3)
        .map(|i| format!("{prefix}{}", fake_body(500 + i, 64)))
        .collect();
    let text = format!("@@ -1,3 +0,0 @@\n{}\n{end}\n", lines.join("\n"));
    let out = redactor().redact(&text);
    assert_eq!(out.text, "@@ -1,3 +0,0 @@\n[REDACTED:private-key]\n");
}

#[test]
fn an_ssh2_private_key_block_is_redacted_whole() {
    let body = fake_body(510, 64);
    let text = format!(
        "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\nComment: \"k\"\n{body}\n---- END SSH2 ENCRYPTED PRIVATE KEY ----\nok"
    );
    assert_eq!(redactor().redact(&text).text, "[REDACTED:private-key]\nok");
}

#[test]
fn many_rejected_commands_on_one_line_are_all_looked_at_and_the_last_is_caught() {
    // Each command word is tried once within its window: the password after a long run of
    // rejected ones is still found.
    let line = format!("{}mysql -uroot -pS3cretPw", "mysql -p$X ; ".repeat(2000));
    let out = redactor().redact(&line);
    assert!(!out.text.contains("S3cretPw"));
    assert_eq!(out.findings.len(), 1);
}

#[rstest]
#[case::code_spans(
    "Run `mysql -pS3cretPw app` then build with `gcc -pthread`.",
    "Run `mysql -p[REDACTED:secret-assignment] app` then build with `gcc -pthread`."
)]
#[case::a_later_flag_of_the_same_command(
    "mysql -pS3cretPw app -pthread",
    "mysql -p[REDACTED:secret-assignment] app -pthread"
)]
#[case::keytool_store_and_key_passwords(
    "keytool -importkeystore -srckeystore a.p12 -srcstorepass S3cretA -deststorepass 'S3cret B' -destkeypass \"S3cretC\"",
    "keytool -importkeystore -srckeystore a.p12 -srcstorepass [REDACTED:secret-assignment] -deststorepass '[REDACTED:secret-assignment]' -destkeypass \"[REDACTED:secret-assignment]\""
)]
#[case::sqlcmd_flag_without_a_value_first(
    "sqlcmd -S db -p -U sa -P S3cretPw -Q \"select 1\"",
    "sqlcmd -S db -p -U sa -P [REDACTED:secret-assignment] -Q \"select 1\""
)]
#[case::keytool_json_list(
    "[\"keytool\", \"-storepass\", \"S3cretA\", \"-keypass\", \"S3cretB\"]",
    "[\"keytool\", \"-storepass\", \"[REDACTED:secret-assignment]\", \"-keypass\", \"[REDACTED:secret-assignment]\"]"
)]
#[case::a_repeated_flag_is_not_a_second_password(
    "keytool -list -storepass S3cretA -v -storepass Other1",
    "keytool -list -storepass [REDACTED:secret-assignment] -v -storepass Other1"
)]
fn the_flag_right_after_the_command_is_the_one_redacted(#[case] text: &str, #[case] want: &str) {
    assert_eq!(redactor().redact(text).text, want);
}

#[test]
fn the_words_before_a_command_are_weighed_up_to_1_kib() {
    let long_prefix =
        "sudo -u app env A=1 B=2 C=3 D=4 E=5 timeout 60 nice -n 10 mysqldump -pS3cret";
    assert_eq!(
        redactor().redact(long_prefix).text,
        "sudo -u app env A=1 B=2 C=3 D=4 E=5 timeout 60 nice -n 10 mysqldump \
         -p[REDACTED:secret-assignment]"
    );
    // 65 KB of `sudo`: the walk stops after 1 KiB, so this is no command position.
    let text = format!("{}mysql -uroot -pS3cretPw", "sudo ".repeat(13_000));
    assert_eq!(redactor().redact(&text).findings, Vec::new());
}

#[rstest]
#[case::ideographic_space("请运行\u{3000}sudo mysql -p1x2y3z4")]
#[case::no_break_space_before_a_path("a\u{a0}/usr/bin/mysql -p1x2y3z4")]
#[case::no_break_space_between_words("sudo\u{a0}-u\u{a0}root mysql -p1x2y3z4")]
fn multibyte_blanks_before_a_command_do_not_panic(#[case] text: &str) {
    let out = redactor().redact(text);
    assert!(out.text.contains("mysql"), "{}", out.text);
}

#[test]
fn a_curl_password_after_a_3_kb_json_body_is_redacted() {
    let body = "0123456789abcdef".repeat(200);
    let secret = fake_body(901, 12);
    let text = format!("curl -X POST -d '{{\"a\": \"{body}\"}}' -u admin:{secret} https://x");
    let out = redactor().redact(&text);
    assert!(!out.text.contains(&secret), "{}", out.text);
    assert!(
        out.text
            .contains("admin:[REDACTED:secret-assignment] https://x")
    );
}

/// Pieces near every edge of the command-line, `.netrc` and key-tail rules: command words,
/// prefixes, flags, quotes, escapes, multi-byte blanks and letters, markers, END lines.
fn command_piece(i: usize, seed: u64) -> String {
    match i {
        0 => "mysql".into(),
        1 => "curl ".into(),
        2 => " -p".into(),
        3 => " -u a:".into(),
        4 => "sudo ".into(),
        5 => "docker login ".into(),
        6 => "redis-cli -a ".into(),
        7 => "sshpass -p ".into(),
        8 => "\u{3000}".into(),
        9 => "\u{a0}".into(),
        10 => "é".into(),
        11 => "\\n".into(),
        12 => "\n".into(),
        13 => "\"".into(),
        14 => "'".into(),
        15 => "\\\"".into(),
        16 => "/usr/bin/".into(),
        17 => "@".into(),
        18 => "machine a.b login x password ".into(),
        19 => "-----END PRIVATE KEY-----".into(),
        20 => "[REDACTED:jwt]".into(),
        21 => fake_body(seed, 12),
        22 => fake_body(seed, 64),
        23 => ", ".into(),
        24 => "htpasswd -nb ".into(),
        25 => "smbclient -U a%".into(),
        26 => "echo ".into(),
        27 => " | docker login --password-stdin ".into(),
        28 => "<<< ".into(),
        _ => "; ".into(),
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]
    /// No text built of those pieces makes the redactor panic, and every finding lies on
    /// character boundaries.
    #[test]
    fn command_line_rules_never_panic(
        pieces in proptest::collection::vec((0usize..30, 0u64..1000), 0..40)
    ) {
        let text: String = pieces.iter().map(|&(i, seed)| command_piece(i, seed)).collect();
        let (seeking, _) = &*SEEK_PAIR;
        let out = seeking.redact(&text);
        for finding in &out.findings {
            proptest::prop_assert!(text.is_char_boundary(finding.start));
            proptest::prop_assert!(text.is_char_boundary(finding.end));
        }
        // Not asserted here: a second pass may redact a base64 line whose neighbour line the
        // first pass redacted (the high-entropy rule spares lines of a base64 block).
    }
}

#[test]
fn a_pgpass_line_is_taken_only_near_the_word_pgpass_by_both_searches() {
    let (seeking, full) = &*SEEK_PAIR;
    let far = format!(
        "db:5432:app:u:S3cretPw\n{}cat ~/.pgpass\n",
        "filler text\n".repeat(400)
    );
    assert_eq!(seeking.redact(&far).text, far);
    assert_eq!(full.redact(&far).text, far);
    let near = "cat ~/.pgpass\ndb:5432:app:u:S3cretPw\n";
    for redactor in [seeking, full] {
        assert_eq!(
            redactor.redact(near).text,
            "cat ~/.pgpass\ndb:5432:app:u:[REDACTED:secret-assignment]\n"
        );
    }
}

/// A text past [`PREFILTER_MAX_BYTES`] goes to the rules without the prefilter: what they find
/// is what they find in the short text alone, and a clean long text is still borrowed.
#[test]
fn a_long_text_skips_the_prefilter_and_finds_the_same_secrets() {
    let filler = "plain words of a build log line\n".repeat(PREFILTER_MAX_BYTES / 16);
    assert!(filler.len() > PREFILTER_MAX_BYTES);
    let r = redactor();
    assert!(matches!(r.redact(&filler).text, Cow::Borrowed(_)));
    for short in [
        "export OPENAI_API_KEY=sk-proj-".to_owned() + &fake_body(5, 48),
        "mysql -u root -pS3cretPw db".to_owned(),
        "token: ".to_owned() + &fake_body(6, 40),
    ] {
        assert!(short.len() < PREFILTER_MAX_BYTES);
        let alone = r.redact(&short);
        assert!(!alone.findings.is_empty(), "{short}");
        let long = format!("{filler}{short}");
        let within = r.redact(&long);
        assert_eq!(within.text, format!("{filler}{}", alone.text), "{short}");
    }
}

/// Names that stay secret-like after the public-key and dotted-name rules: a class field
/// after `public`, a `PUB_` prefix, a secret word before a member's last part.
#[rstest]
#[case::public_class_field("class Cfg { public password = 'Xq7v9Lm2pRt5'; }")]
#[case::public_token_field("public token = \"Xq7v9Lm2pRt5Kw3\";")]
#[case::pub_prefix("PUB_TOKEN=Xq7v9Lm2pRt5Kw3Zy8B")]
#[case::dart_publish_token("PUB_DEV_PUBLISH_ACCESS_TOKEN=mysupersecretvalue")]
#[case::secret_before_key("app.secret.key=mysupersecretvalue")]
#[case::token_before_value("auth.token.value = hunter2hunter2")]
fn names_still_secret_after_the_public_and_member_rules(#[case] text: &str) {
    assert!(!redactor().is_clean(text), "{text}");
}

/// The lines a rule's needed word is on, each with its continuation lines, in order and
/// disjoint: where the command words of such a rule are looked for.
#[test]
fn lines_holding_finds_each_line_of_the_word_with_its_continuations() {
    let finder = memchr::memmem::Finder::new("login");
    let text = "a login\nb\nc login login \\\n d \\\r\n e\nf\nlogin";
    let lines: Vec<&str> = super::lines_holding(text, &finder)
        .into_iter()
        .map(|(from, to)| &text[from..to])
        .collect();
    assert_eq!(lines, ["a login", "c login login \\\n d \\\r\n e", "login"]);
    assert_eq!(super::lines_holding("no word here", &finder), Vec::new());
}

/// Whether `text` comes out with a marker in it, as `redacted` says.
fn assert_redacted_or_kept(text: &str, redacted: bool) {
    let out = redactor().redact(text).text;
    assert_eq!(out.contains("[REDACTED:"), redacted, "{text} -> {out}");
}
