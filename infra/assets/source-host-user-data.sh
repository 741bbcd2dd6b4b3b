#!/bin/bash
# pgshift source host, first boot (EC2 user-data). Installs the PostgreSQL client tools (pg_dump/pg_restore/psql
# of the RDS major, which can read any older source) and registers this host as a GitHub Actions self-hosted
# runner with the pgshift label, running as a non-root service user. The registration token is read from SSM
# Parameter Store at boot, so it is in neither the user-data, the Terraform state nor this log.
# Log: /var/log/pgshift-source-setup.log. Re-running it by hand is safe.
set -euo pipefail
umask 022
exec >>/var/log/pgshift-source-setup.log 2>&1
echo "pgshift setup started $(date -u +%FT%TZ)"

#@pgshift-settings (replaced at synth time by REGION, REPOSITORY, RUNNER_LABEL, TOKEN_PARAMETER, RUNNER_VERSION, PG_CLIENT_MAJOR, DOCKER_EXEC)

RUNNER_USER=pgshift-runner
RUNNER_DIR=/opt/pgshift-runner

# Networking can blink at first boot (the Elastic IP replaces the launch address): retry what goes online.
retry() {
  local attempt=1
  until "$@"; do
    if [ "$attempt" -ge 8 ]; then echo "pgshift: gave up after $attempt tries: $1" >&2; return 1; fi
    sleep $((attempt * 5)); attempt=$((attempt + 1))
  done
}

# IMDSv2 only (the instance requires session tokens).
imds() {
  local token
  token=$(curl -fsS -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')
  curl -fsS -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/meta-data/$1"
}

install_packages() {
  . /etc/os-release
  case "$ID" in
    ubuntu|debian)
      export DEBIAN_FRONTEND=noninteractive
      retry apt-get update -qq
      retry apt-get install -y -qq ca-certificates curl gnupg jq unzip tar
      # The PostgreSQL project's own repository: the distribution's client is often older than RDS.
      install -d /usr/share/postgresql-common/pgdg
      retry curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc https://www.postgresql.org/media/keys/ACCC4CF8.asc
      echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt ${VERSION_CODENAME}-pgdg main" \
        >/etc/apt/sources.list.d/pgdg.list
      retry apt-get update -qq
      retry apt-get install -y -qq "postgresql-client-${PG_CLIENT_MAJOR}"
      ;;
    amzn|rhel|rocky|almalinux|fedora|centos)
      retry dnf install -y -q jq unzip tar "postgresql${PG_CLIENT_MAJOR}"
      ;;
    *)
      echo "pgshift: unsupported OS '$ID': install the PostgreSQL ${PG_CLIENT_MAJOR} client, jq and unzip by hand, then re-run this script" >&2
      exit 1
      ;;
  esac
  if ! command -v aws >/dev/null 2>&1; then
    retry curl -fsSL -o /tmp/awscliv2.zip "https://awscli.amazonaws.com/awscli-exe-linux-$(uname -m).zip"
    unzip -q -o /tmp/awscliv2.zip -d /tmp
    /tmp/aws/install --update
    rm -rf /tmp/aws /tmp/awscliv2.zip
  fi
}

create_runner_user() {
  id "$RUNNER_USER" >/dev/null 2>&1 || useradd --system --create-home --shell /bin/bash "$RUNNER_USER"
  # Docker group membership is root on this host in all but name; only when pgshift must run the tools
  # inside the container (`docker exec`). Otherwise the runner reaches PostgreSQL over TCP like any client.
  if [ "$DOCKER_EXEC" = 1 ] && getent group docker >/dev/null; then usermod -aG docker "$RUNNER_USER"; fi
}

download_runner() {
  if [ -x "$RUNNER_DIR/config.sh" ]; then return 0; fi
  local arch release_url release asset url digest
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64) arch=arm64 ;;
    *) echo "pgshift: no runner build for $(uname -m)" >&2; exit 1 ;;
  esac
  if [ -z "$RUNNER_VERSION" ]; then
    release_url=https://api.github.com/repos/actions/runner/releases/latest
  else
    release_url="https://api.github.com/repos/actions/runner/releases/tags/v${RUNNER_VERSION}"
  fi
  release=$(retry curl -fsSL -H 'Accept: application/vnd.github+json' "$release_url")
  asset=$(jq -c --arg arch "$arch" '.assets[] | select(.name | test("^actions-runner-linux-" + $arch + "-[0-9.]+[.]tar[.]gz$"))' <<<"$release")
  url=$(jq -r .browser_download_url <<<"$asset")
  digest=$(jq -r '.digest // ""' <<<"$asset")
  retry curl -fsSL -o /tmp/actions-runner.tar.gz "$url"
  if [ -n "$digest" ]; then
    echo "${digest#sha256:}  /tmp/actions-runner.tar.gz" | sha256sum -c -
  else
    echo "pgshift: the runner release lists no digest; the download is not checksum-verified"
  fi
  install -d -o "$RUNNER_USER" -g "$RUNNER_USER" "$RUNNER_DIR"
  tar -xzf /tmp/actions-runner.tar.gz -C "$RUNNER_DIR"
  chown -R "$RUNNER_USER:$RUNNER_USER" "$RUNNER_DIR"
  rm -f /tmp/actions-runner.tar.gz
  "$RUNNER_DIR/bin/installdependencies.sh"
}

register_runner() {
  if [ -f "$RUNNER_DIR/.runner" ]; then echo "pgshift: runner already registered"; return 0; fi
  local instance_id
  instance_id=$(retry imds instance-id)
  # The IAM policy that allows this read may still be propagating: retry.
  ACTIONS_RUNNER_INPUT_TOKEN=$(retry aws ssm get-parameter --region "$REGION" --name "$TOKEN_PARAMETER" \
    --with-decryption --query Parameter.Value --output text)
  export ACTIONS_RUNNER_INPUT_TOKEN
  # The runner reads ACTIONS_RUNNER_INPUT_TOKEN itself, so the token is on no command line.
  (cd "$RUNNER_DIR" && sudo --preserve-env=ACTIONS_RUNNER_INPUT_TOKEN -u "$RUNNER_USER" ./config.sh --unattended \
    --url "https://github.com/${REPOSITORY}" --name "pgshift-source-${instance_id}" \
    --labels "$RUNNER_LABEL" --work _work --replace)
  unset ACTIONS_RUNNER_INPUT_TOKEN
  (cd "$RUNNER_DIR" && ./svc.sh install "$RUNNER_USER" && ./svc.sh start)
}

install_packages
create_runner_user
download_runner
register_runner
echo "pgshift setup finished $(date -u +%FT%TZ): pg_dump $(pg_dump --version | awk '{print $3}'), runner label ${RUNNER_LABEL}"
