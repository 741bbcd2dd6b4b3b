#!/usr/bin/env bash
# Prepare the source EC2 host (the one running PostgreSQL in Docker) to run pgshift's database jobs:
#   1. a non-root service user for the GitHub Actions runner
#   2. (only with --docker-exec) that user in the docker group
#   3. PostgreSQL client tools of the source's major version (pg_dump must be >= the server's major)
#   4. the GitHub self-hosted runner, registered with the label pgshift-source
#   5. the runner as a systemd service running as that user
#
# GitHub's hosted runners cannot reach the Docker PostgreSQL nor the private RDS endpoint;
# this host reaches both. Used by the infra user-data and by hand on the production host.
# Safe to run again: every step checks whether it is already done.
#
# Usage (as root):
#   setup-source-host.sh --repo owner/name --token-ssm-parameter /pgshift/runner-registration-token \
#                        (--pg-major 15 | --container tasteam-postgres) [--docker-exec] [--dry-run]
#   The registration token (valid for one hour: Settings → Actions → Runners → New runner, or
#   POST /repos/{owner}/{repo}/actions/runners/registration-token) comes from SSM Parameter Store
#   (SecureString, read with --with-decryption) or from RUNNER_REGISTRATION_TOKEN in the environment.
#   Never from an argument: arguments show in `ps` and in the shell history.
set -euo pipefail

RUNNER_USER=pgshift-runner
RUNNER_DIR=/opt/pgshift-runner
RUNNER_LABEL=pgshift-source
RUNNER_VERSION=latest
RUNNER_SHA256=""
RUNNER_NAME=""
GITHUB_URL=https://github.com
REPO=""
TOKEN_PARAMETER=""
AWS_REGION_ARG=""
PG_MAJOR=""
CONTAINER=""
DOCKER_EXEC=0
DRY_RUN=0
RESTART_SERVICE=0
ENV_TOKEN=""

usage() {
  cat <<'EOF'
setup-source-host.sh — install and register pgshift's self-hosted GitHub runner on the source host

Required:
  --repo OWNER/NAME              repository the runner serves
  --pg-major N | --container C   source PostgreSQL major, or the Docker container to read it from
Registration token (one of):
  --token-ssm-parameter NAME     SSM Parameter Store name (SecureString) holding the token
  RUNNER_REGISTRATION_TOKEN      environment variable
Options:
  --docker-exec                  add the runner user to the docker group (see the trade-off below)
  --runner-user USER             service user (default pgshift-runner)
  --runner-dir DIR               install directory (default /opt/pgshift-runner)
  --runner-name NAME             runner name (default pgshift-source-<hostname>)
  --runner-version X.Y.Z         actions/runner release (default: latest)
  --runner-sha256 HEX            expected SHA-256 of the runner tarball (default: the digest GitHub lists for it)
  --github-url URL               GitHub (Enterprise Server) URL (default https://github.com)
  --region REGION                AWS region for SSM (default AWS_REGION, then the instance's region)
  --dry-run                      print the steps without changing anything
EOF
}

die() {
  echo "setup-source-host: $1" >&2
  [ -n "${2:-}" ] && echo "  next: $2" >&2
  exit 2
}

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --repo) REPO="${2:?--repo needs a value}"; shift 2 ;;
      --token-ssm-parameter) TOKEN_PARAMETER="${2:?--token-ssm-parameter needs a value}"; shift 2 ;;
      --region) AWS_REGION_ARG="${2:?--region needs a value}"; shift 2 ;;
      --pg-major) PG_MAJOR="${2:?--pg-major needs a value}"; shift 2 ;;
      --container) CONTAINER="${2:?--container needs a value}"; shift 2 ;;
      --docker-exec) DOCKER_EXEC=1; shift ;;
      --runner-user) RUNNER_USER="${2:?--runner-user needs a value}"; shift 2 ;;
      --runner-dir) RUNNER_DIR="${2:?--runner-dir needs a value}"; shift 2 ;;
      --runner-name) RUNNER_NAME="${2:?--runner-name needs a value}"; shift 2 ;;
      --runner-version) RUNNER_VERSION="${2:?--runner-version needs a value}"; shift 2 ;;
      --runner-sha256) RUNNER_SHA256="${2:?--runner-sha256 needs a value}"; shift 2 ;;
      --github-url) GITHUB_URL="${2:?--github-url needs a value}"; shift 2 ;;
      --dry-run) DRY_RUN=1; shift ;;
      --token) die "the registration token is never an argument (it would show in ps and the shell history)" "put it in SSM (--token-ssm-parameter) or in RUNNER_REGISTRATION_TOKEN" ;;
      -h|--help) usage; exit 0 ;;
      *) usage >&2; die "unknown argument: $1" "see --help" ;;
    esac
  done
  [[ "$REPO" =~ ^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$ ]] || die "--repo owner/name is required" "pass --repo tasteam/backend"
  [ -n "$PG_MAJOR" ] || [ -n "$CONTAINER" ] || die "the source PostgreSQL major is unknown" "pass --pg-major 15, or --container <name> to read it with docker exec"
  [ -z "$PG_MAJOR" ] || [[ "$PG_MAJOR" =~ ^[0-9]{2}$ ]] || die "--pg-major must be a major version such as 15"
  [[ "$RUNNER_USER" =~ ^[a-z_][a-z0-9_-]*$ ]] || die "--runner-user '$RUNNER_USER' is not a valid user name"
  [ "$RUNNER_USER" != root ] || die "the runner must not run as root" "keep the default --runner-user pgshift-runner"
  [ -n "$RUNNER_NAME" ] || RUNNER_NAME="pgshift-source-$(hostname -s 2>/dev/null || hostname)"
  # Keep the token out of the environment of everything this script starts (apt, curl, ...).
  ENV_TOKEN="${RUNNER_REGISTRATION_TOKEN:-}"
  unset RUNNER_REGISTRATION_TOKEN
  if [ -z "$TOKEN_PARAMETER" ] && [ -z "$ENV_TOKEN" ] && [ ! -f "$RUNNER_DIR/.runner" ]; then
    die "no registration token" "pass --token-ssm-parameter NAME or set RUNNER_REGISTRATION_TOKEN"
  fi
}

# Print a command (shell-quoted), and run it unless this is a dry run.
run() {
  local shown=() arg
  for arg in "$@"; do shown+=("$(printf '%q' "$arg")"); done
  if [ "$DRY_RUN" = 1 ]; then
    echo "  would run: ${shown[*]}"
  else
    echo "  + ${shown[*]}"
    "$@"
  fi
}

step() { echo "== $1"; }
ok() { echo "  ok: $1"; }

require_root() {
  if [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then
    die "must run as root (it creates a user, installs packages and a systemd service)" "sudo $0 ..."
  fi
}

# Step 1. The runner executes workflow code; as a dedicated unprivileged user a compromised job
# cannot touch the rest of the host. No password, no login shell, no sudo.
create_service_user() {
  step "service user $RUNNER_USER (non-root, no login shell)"
  if id -u "$RUNNER_USER" >/dev/null 2>&1; then
    ok "user $RUNNER_USER exists"
  else
    run useradd --system --user-group --create-home --home-dir "/home/$RUNNER_USER" --shell /usr/sbin/nologin "$RUNNER_USER"
  fi
}

# Step 2. Trade-off: membership in the docker group is root on this host in all but name
# (`docker run -v /:/host` reads and writes everything). It is needed only when pgshift runs the
# PostgreSQL tools inside the container (`docker exec`, e.g. because the port is not published).
# Without --docker-exec the runner reaches PostgreSQL over TCP like any client, with the host's
# client tools installed below, and has no power over Docker. Prefer that.
grant_docker_access() {
  step "docker group for $RUNNER_USER"
  if [ "$DOCKER_EXEC" != 1 ]; then
    ok "not requested (no --docker-exec): the runner connects over TCP and gets no Docker access"
    return
  fi
  if id -nG "$RUNNER_USER" 2>/dev/null | tr ' ' '\n' | grep -qx docker; then
    ok "$RUNNER_USER is in the docker group"
  else
    run usermod -aG docker "$RUNNER_USER"
    # A running service keeps its old groups: restart it below so the membership takes effect.
    RESTART_SERVICE=1
  fi
}

# The source's major version, read from the server itself when a container is named.
detect_pg_major() {
  step "source PostgreSQL major version"
  if [ -z "$PG_MAJOR" ]; then
    local version
    command -v docker >/dev/null 2>&1 || die "--container given but docker is not installed here" "pass --pg-major instead"
    version="$(docker exec "$CONTAINER" postgres --version)" || die "cannot run postgres --version in container $CONTAINER" "check the container name (docker ps) or pass --pg-major"
    # "postgres (PostgreSQL) 15.8 (Debian 15.8-1.pgdg120+1)" → 15
    PG_MAJOR="$(echo "$version" | sed -nE 's/.*\(PostgreSQL\) ([0-9]+)(\.[0-9]+)?.*/\1/p')"
    [ -n "$PG_MAJOR" ] || die "cannot read a version from '$version'" "pass --pg-major"
    ok "container $CONTAINER runs PostgreSQL $PG_MAJOR"
  else
    ok "PostgreSQL $PG_MAJOR (given)"
  fi
}

# Step 3. pg_dump refuses a server newer than itself, so the client tools match the source's major.
# Debian/Ubuntu: the distribution's package when it has that major, else the PGDG repository.
# Amazon Linux 2023: postgresqlNN packages.
install_pg_client() {
  step "PostgreSQL $PG_MAJOR client tools"
  if command -v apt-get >/dev/null 2>&1; then
    local pkg="postgresql-client-$PG_MAJOR"
    if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      ok "$pkg is installed"
      return
    fi
    if ! apt-cache show "$pkg" >/dev/null 2>&1; then
      add_pgdg_repository
    fi
    run apt-get install -y --no-install-recommends "$pkg"
  elif command -v dnf >/dev/null 2>&1; then
    local pkg="postgresql$PG_MAJOR"
    if rpm -q "$pkg" >/dev/null 2>&1; then
      ok "$pkg is installed"
    else
      run dnf install -y "$pkg"
    fi
  else
    die "no apt-get or dnf on this host" "install the PostgreSQL $PG_MAJOR client tools by hand"
  fi
}

add_pgdg_repository() {
  local codename keyring=/usr/share/keyrings/pgdg.asc list=/etc/apt/sources.list.d/pgdg.list
  # shellcheck source=/dev/null
  codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
  [ -n "$codename" ] || die "cannot tell the distribution codename from /etc/os-release" "install postgresql-client-$PG_MAJOR by hand"
  if [ -f "$list" ]; then
    ok "PGDG repository configured"
  else
    run apt-get update
    run apt-get install -y --no-install-recommends ca-certificates curl
    run curl -fsSL -o "$keyring" https://www.postgresql.org/media/keys/ACCC4CF8.asc
    run_write "$list" "deb [signed-by=$keyring] https://apt.postgresql.org/pub/repos/apt $codename-pgdg main"
  fi
  run apt-get update
}

# Write one line to a file (shown in a dry run).
run_write() {
  if [ "$DRY_RUN" = 1 ]; then
    echo "  would write $1: $2"
  else
    echo "  + write $1"
    printf '%s\n' "$2" >"$1"
  fi
}

# Tools this script itself needs: curl for downloads, jq to read the release metadata.
install_prerequisites() {
  step "prerequisites (curl, jq, tar)"
  local missing=() tool
  for tool in curl jq tar; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
  if [ ${#missing[@]} -eq 0 ]; then
    ok "curl, jq and tar are installed"
  elif command -v apt-get >/dev/null 2>&1; then
    run apt-get update
    run apt-get install -y --no-install-recommends ca-certificates "${missing[@]}"
  elif command -v dnf >/dev/null 2>&1; then
    run dnf install -y "${missing[@]}"
  else
    die "missing ${missing[*]}" "install them, then rerun"
  fi
}

# Step 4a. The runner release, checked against its SHA-256 and unpacked into RUNNER_DIR, owned by
# the service user. The digest comes from --runner-sha256, else from the release's asset metadata.
install_runner() {
  step "GitHub Actions runner $RUNNER_VERSION in $RUNNER_DIR"
  if [ -x "$RUNNER_DIR/config.sh" ]; then
    ok "runner already unpacked in $RUNNER_DIR"
    return
  fi
  local arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64|arm64) arch=arm64 ;;
    *) die "unsupported CPU architecture $(uname -m)" ;;
  esac
  local api=https://api.github.com/repos/actions/runner/releases/latest
  [ "$RUNNER_VERSION" = latest ] || api="https://api.github.com/repos/actions/runner/releases/tags/v${RUNNER_VERSION#v}"
  local tarball=/tmp/pgshift-actions-runner.tar.gz url digest
  if [ "$DRY_RUN" = 1 ]; then
    echo "  would read: the actions-runner-linux-$arch tarball URL and its sha256 digest from $api"
    url="https://github.com/actions/runner/releases/download/vVERSION/actions-runner-linux-$arch-VERSION.tar.gz"
    digest="${RUNNER_SHA256:-<digest from the release>}"
  else
    local release asset
    release="$(curl -fsSL "$api")" || die "cannot read $api" "check the network, or pass --runner-version"
    asset="$(jq -c --arg arch "$arch" 'first(.assets[] | select(.name | test("^actions-runner-linux-" + $arch + "-[0-9.]+[.]tar[.]gz$"))) // empty' <<<"$release")"
    [ -n "$asset" ] || die "the runner release has no linux-$arch tarball" "pass another --runner-version"
    url="$(jq -r .browser_download_url <<<"$asset")"
    digest="${RUNNER_SHA256:-$(jq -r '.digest // empty' <<<"$asset" | sed 's/^sha256://')}"
    [ -n "$digest" ] || die "the runner release lists no sha256 digest" "pass --runner-sha256 from the release notes"
  fi
  run install -d -o "$RUNNER_USER" -g "$RUNNER_USER" -m 0750 "$RUNNER_DIR"
  run curl -fsSL -o "$tarball" "$url"
  if [ "$DRY_RUN" = 1 ]; then
    echo "  would check: sha256 of $tarball = $digest"
  elif ! echo "$digest  $tarball" | sha256sum -c --quiet -; then
    rm -f "$tarball"
    die "the runner tarball does not match its sha256 digest" "retry; if it persists, check the release"
  fi
  run runuser -u "$RUNNER_USER" -- tar -xzf "$tarball" -C "$RUNNER_DIR"
  run rm -f "$tarball"
  # The runner's .NET needs libicu and friends; its own script knows the package names per distribution.
  run "$RUNNER_DIR/bin/installdependencies.sh"
}

# The registration token: from the environment, or SSM Parameter Store (SecureString).
read_registration_token() {
  if [ -n "$ENV_TOKEN" ]; then
    REG_TOKEN="$ENV_TOKEN"
    ok "registration token from RUNNER_REGISTRATION_TOKEN"
    return
  fi
  if [ "$DRY_RUN" = 1 ]; then
    echo "  would run: aws ssm get-parameter --name $(printf '%q' "$TOKEN_PARAMETER") --with-decryption --query Parameter.Value --output text"
    REG_TOKEN="dry-run-token"
    return
  fi
  command -v aws >/dev/null 2>&1 || die "the AWS CLI is needed to read $TOKEN_PARAMETER" "install it, or set RUNNER_REGISTRATION_TOKEN"
  local region="${AWS_REGION_ARG:-${AWS_REGION:-}}"
  [ -n "$region" ] || region="$(instance_region)"
  REG_TOKEN="$(aws ssm get-parameter --region "$region" --name "$TOKEN_PARAMETER" --with-decryption --query Parameter.Value --output text)" ||
    die "cannot read SSM parameter $TOKEN_PARAMETER in $region" "allow ssm:GetParameter (and kms:Decrypt) to the instance profile"
  if [ -z "$REG_TOKEN" ] || [ "$REG_TOKEN" = None ]; then
    die "SSM parameter $TOKEN_PARAMETER is empty" "store a fresh registration token in it"
  fi
  ok "registration token from SSM $TOKEN_PARAMETER"
}

# The instance's own region from IMDSv2 (the infra requires IMDSv2 tokens).
instance_region() {
  local imds_token
  imds_token="$(curl -fsS -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://169.254.169.254/latest/api/token)" ||
    die "no AWS region known" "pass --region"
  curl -fsS -H "X-aws-ec2-metadata-token: $imds_token" http://169.254.169.254/latest/meta-data/placement/region
}

# Step 4b. Register once: .runner exists after a successful config.sh.
register_runner() {
  step "register runner $RUNNER_NAME with label $RUNNER_LABEL"
  if [ -f "$RUNNER_DIR/.runner" ]; then
    ok "already registered (remove it with ./config.sh remove to register again)"
    return
  fi
  REG_TOKEN=""
  read_registration_token
  # The token travels in the environment (the runner reads ACTIONS_RUNNER_INPUT_<OPTION>), not in
  # argv where any user on the host could read it with ps. config.sh refuses root: it runs as the
  # service user it will serve as (runuser keeps the environment).
  echo "  (the token is passed in ACTIONS_RUNNER_INPUT_TOKEN, never on the command line)"
  export ACTIONS_RUNNER_INPUT_TOKEN="$REG_TOKEN"
  run runuser -u "$RUNNER_USER" -- "$RUNNER_DIR/config.sh" --unattended --url "$GITHUB_URL/$REPO" \
    --name "$RUNNER_NAME" --labels "$RUNNER_LABEL" --work _work --replace
  unset ACTIONS_RUNNER_INPUT_TOKEN REG_TOKEN ENV_TOKEN
}

# Step 5. A systemd unit (svc.sh names it actions.runner.<owner>-<repo>.<name>.service) that
# starts the runner as the service user at boot.
install_service() {
  step "systemd service running as $RUNNER_USER"
  if [ -f "$RUNNER_DIR/.service" ]; then
    ok "service installed ($(cat "$RUNNER_DIR/.service"))"
    [ "$RESTART_SERVICE" = 1 ] && run_in_runner_dir ./svc.sh stop
  else
    run_in_runner_dir ./svc.sh install "$RUNNER_USER"
  fi
  run_in_runner_dir ./svc.sh start
}

run_in_runner_dir() {
  if [ "$DRY_RUN" = 1 ]; then
    echo "  would run (in $RUNNER_DIR): $*"
  else
    echo "  + (cd $RUNNER_DIR && $*)"
    (cd "$RUNNER_DIR" && "$@")
  fi
}

main() {
  parse_args "$@"
  [ "$DRY_RUN" = 1 ] && echo "Dry run: nothing is changed."
  require_root
  create_service_user
  grant_docker_access
  detect_pg_major
  install_pg_client
  install_prerequisites
  install_runner
  register_runner
  install_service
  echo "Done: runner $RUNNER_NAME (label $RUNNER_LABEL) serves $GITHUB_URL/$REPO as $RUNNER_USER."
}

main "$@"
