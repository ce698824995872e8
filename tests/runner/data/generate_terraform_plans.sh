#!/usr/bin/env bash
# How terraform-*.json and terraform-*.plan.txt were recorded (Terraform 1.11.4, linux_amd64):
# real `terraform show -json` / `show -no-color` of saved plans, using only the built-in
# terraform_data resource and terraform_remote_state data source (no provider download).
# Run from anywhere: bash tests/runner/data/generate_terraform_plans.sh
set -euo pipefail
DATA="$(cd "$(dirname "$0")" && pwd)"
WORK="$(mktemp -d)"
cd "$WORK"
export TF_IN_AUTOMATION=1 TF_INPUT=0 HOME="$WORK/home" CHECKPOINT_DISABLE=1
mkdir -p home
rec() { # scenario name, folder
  (cd "$2" && terraform plan -no-color -input=false -out=p.tfplan >/dev/null \
    && terraform show -json p.tfplan | python3 -m json.tool > "$DATA/terraform-$1.json" \
    && terraform show -no-color p.tfplan > "$DATA/terraform-$1.plan.txt")
}
scen() { rm -rf $1; mkdir $1; }
# create
scen create; cat > create/main.tf <<'T'
resource "terraform_data" "web" { input = "v1" }
T
(cd create && terraform init -no-color >/dev/null); rec create create

# base state with 4 resources applied
scen base; cat > base/main.tf <<'T'
resource "terraform_data" "keep" { input = "same" }
resource "terraform_data" "upd" { input = "old" }
resource "terraform_data" "gone" { input = "x" }
resource "terraform_data" "repl" {
  input = "r"
  triggers_replace = ["one"]
}
resource "terraform_data" "cbd" {
  input = "c"
  triggers_replace = ["one"]
  lifecycle { create_before_destroy = true }
}
T
(cd base && terraform init -no-color >/dev/null && terraform apply -auto-approve -no-color >/dev/null)
mk() { scen $1; cp base/terraform.tfstate $1/; cat > $1/main.tf; (cd $1 && terraform init -no-color >/dev/null); rec $1 $1; }
# update
sed 's/"old"/"new"/' base/main.tf | mk update
# delete
grep -v gone base/main.tf | mk delete
# replace delete-then-create
python3 - base/main.tf > repl.tf <<'P'
import sys;s=open(sys.argv[1]).read();print(s.replace('input = "r"\n  triggers_replace = ["one"]','input = "r"\n  triggers_replace = ["two"]'))
P
mk replace-delete-create < repl.tf
python3 - base/main.tf > cbd.tf <<'P'
import sys;s=open(sys.argv[1]).read();print(s.replace('input = "c"\n  triggers_replace = ["one"]','input = "c"\n  triggers_replace = ["two"]'))
P
mk replace-create-delete < cbd.tf
# no-op
mk noop < base/main.tf
# read: data source deferred to apply because it depends on a resource being created
{ cat base/main.tf; cat <<'T'
resource "terraform_data" "fresh" { input = "f" }
data "terraform_remote_state" "other" {
  backend = "local"
  config = { path = "${path.module}/other.tfstate" }
  depends_on = [terraform_data.fresh]
}
T
} > read.tf
cp base/terraform.tfstate other.tfstate
scen read; cp base/terraform.tfstate other.tfstate read/; cp base/terraform.tfstate read/; cp read.tf read/main.tf; (cd read && terraform init -no-color >/dev/null); rec read read
# mixed: create + update + delete + both replaces
python3 - base/main.tf > mixed.tf <<'P'
import sys;s=open(sys.argv[1]).read()
s=s.replace('"old"','"new"').replace('resource "terraform_data" "gone" { input = "x" }\n','').replace('triggers_replace = ["one"]','triggers_replace = ["two"]')
s+='resource "terraform_data" "added" { input = "a" }\nresource "terraform_data" "added2" { input = "b" }\n'
print(s)
P
mk mixed < mixed.tf
# empty: no configuration at all
scen empty; echo '' > empty/main.tf; (cd empty && terraform init -no-color >/dev/null); rec empty empty
