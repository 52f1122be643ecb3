#!/bin/sh
# A walk through Stageflow's Camunda-compatible REST API with curl: deploy, start an order, work the payment as
# an external worker would, correlate the payment message and complete the shipping task.
#
#   make run                       # in another terminal: the engine on http://127.0.0.1:8080 with user demo
#   sh examples/curl_walkthrough.sh
#
# STAGEFLOW_URL (default http://127.0.0.1:8080/engine-rest) and STAGEFLOW_AUTH (default demo:demo-pass-1) say
# where and as whom. Needs curl and python3 (to read JSON). Stops at the first failing call.
set -eu
URL=${STAGEFLOW_URL:-http://127.0.0.1:8080/engine-rest}
AUTH=${STAGEFLOW_AUTH:-demo:demo-pass-1}
HERE=$(dirname "$0")
BK=${ORDER_KEY:-ORDER-$(date +%s)}

api() { # METHOD PATH [JSON]: print the response body; fail on an HTTP error
  curl --silent --show-error --fail-with-body -u "$AUTH" -X "$1" -H 'Content-Type: application/json' \
       ${3:+--data "$3"} "$URL$2"
}
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d' + sys.argv[1]))" "$1"; }

echo "1. deploy examples/order_payment.bpmn"
curl --silent --show-error --fail-with-body -u "$AUTH" "$URL/deployment/create" \
     -F deployment-name=walkthrough -F deploy-changed-only=true -F "data=@$HERE/order_payment.bpmn" | field "['id']"

echo "2. start an order with business key $BK"
INSTANCE=$(api POST /process-definition/key/order_payment/start \
  "{\"businessKey\": \"$BK\", \"variables\": {\"amount\": {\"value\": 1200, \"type\": \"Integer\"}}}" | field "['id']")
echo "   instance $INSTANCE"

echo "3. a payment worker fetches the card charge and completes it"
TASK=$(api POST /external-task/fetchAndLock \
  '{"workerId": "curl-worker", "maxTasks": 1, "topics": [{"topicName": "charge-card", "lockDuration": 60000}]}' \
  | field "[0]['id']")
api POST "/external-task/$TASK/complete" '{"workerId": "curl-worker", "variables": {"charged": {"value": true}}}'

echo "4. the payment system confirms: correlate message payment-received"
api POST /message "{\"messageName\": \"payment-received\", \"businessKey\": \"$BK\", \"resultEnabled\": true}" \
  | field "[0]['resultType']"

echo "5. the warehouse completes 'Ship order' with a tracking number"
SHIP=$(api GET "/task?processInstanceId=$INSTANCE&taskDefinitionKey=ship_order" | field "[0]['id']")
api POST "/task/$SHIP/complete" '{"variables": {"trackingNumber": {"value": "TRACK-1", "type": "String"}}}'

echo "6. the order's history"
api GET "/history/process-instance/$INSTANCE" | field "['state']"
