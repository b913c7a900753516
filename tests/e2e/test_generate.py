#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# End-to-end tests of `moonwire generate`: every prompt of
# shared/data/prompts (and paraphrases of the same kinds) is generated with
# the builtin provider into a fresh database, run on the scenarios' shares
# against the real target, and the requests the target received are
# checked. The openai provider is tested against tests/e2e/fake_llm.py.
import argparse
import copy
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import SHARED, Moonwire, Runner, Target, expect, load_payload  # noqa

PROMPTS = os.path.join(SHARED, "data", "prompts", "prompts.json")
FAKE_LLM = os.path.join(os.path.dirname(__file__), "fake_llm.py")

# Scenario name -> (runs the "new" share first, how to make the share).
BASE = "bigpanda-incident-new.json"


def share_for(scenario, incident):
    inc = copy.deepcopy(incident)
    event = "incident#updated"
    if scenario in ("new", "new_when_target_fails"):
        event = "incident#new"
    elif scenario == "resolved":
        inc["status"], inc["active"] = "ok", False
    elif scenario == "closed":
        event = "incident#closed"
    elif scenario == "new_warning":
        inc["id"] = "7770b2e1d3f5c80023bc45de"
        inc["status"] = inc["severity"] = "warning"
        event = "incident#new"
    return {"incident": inc, "metadata": {"event_type": event}}


AFTER_NEW = ("update", "resolved", "closed")

# Paraphrases of the same kinds as the shared prompts, in the same format:
# the planner must read the kind of request, not the sentence.
PARAPHRASES = [
    {"id": "X01", "prompt": "When a new incident comes in, POST it to "
     "{TARGET}/tickets and store the id from the reply as the external id. "
     "For later shares, send the update together with the stored id to "
     "{TARGET}/tickets/update.",
     "expect": {"new": [{"method": "POST", "path": "/tickets",
                         "body_has": ["{incident_id}"]}],
                "update": [{"method": "POST", "path": "/tickets/update",
                            "body_has": ["EXT-1"]}]}},
    {"id": "X02", "prompt": "Forward all incidents to {TARGET}/hooks/incidents "
     "(JSON, POST) including id, status and severity.",
     "expect": {"new": [{"method": "POST", "path": "/hooks/incidents",
                         "body_has": ["{incident_id}", "critical"]}],
                "update": [{"method": "POST", "path": "/hooks/incidents"}]}},
    {"id": "X03", "prompt": "On the first share, create a ticket via "
     "POST {TARGET}/tickets and keep its id; afterwards PATCH the status to "
     "{TARGET}/tickets/<external id>.",
     "expect": {"new": [{"method": "POST", "path": "/tickets"}],
                "update": [{"method": "PATCH", "path": "/tickets/EXT-1",
                            "body_has": ["critical"]}]}},
    {"id": "X04", "prompt": "Authenticate with OAuth2 client credentials "
     "against {TARGET}/oauth/token using client_id mw-client and "
     "client_secret s3cr3t, then send the incident to {TARGET}/tickets with "
     "the token (POST). Store the returned id.",
     "expect": {"new": [{"method": "POST", "path": "/oauth/token"},
                        {"method": "POST", "path": "/tickets",
                         "header": ["authorization", "Bearer tok-"]}],
                "require_token": True}},
    {"id": "X05", "prompt": "Send only critical incidents to {TARGET}/pager "
     "with a POST; ignore everything else.",
     "expect": {"new": [{"method": "POST", "path": "/pager"}],
                "new_warning": []}},
    {"id": "X06", "prompt": "If the severity is critical, POST to "
     "{TARGET}/pager. If it is warning, POST to {TARGET}/chat.",
     "expect": {"new": [{"method": "POST", "path": "/pager"}],
                "new_warning": [{"method": "POST", "path": "/chat"}]}},
    {"id": "X07", "prompt": "For each share post a message to {TARGET}/chat "
     "with the text \"Incident <id> is <status>\".",
     "expect": {"new": [{"method": "POST", "path": "/chat",
                         "body_has": ["Incident {incident_id} is critical"]}]}},
    {"id": "X08", "prompt": "New incidents: create a record with "
     "POST {TARGET}/tickets and save the id field of the response. "
     "Updates: PUT {TARGET}/tickets/{id} with the current status and "
     "severity. When the incident is closed, send a DELETE to "
     "{TARGET}/tickets/{id}.",
     "expect": {"new": [{"method": "POST", "path": "/tickets"}],
                "update": [{"method": "PUT", "path": "/tickets/EXT-1",
                            "body_has": ["critical"]}],
                "closed": [{"method": "DELETE", "path": "/tickets/EXT-1"}]}},
    {"id": "X09", "prompt": "Add the header X-Api-Key: abc123 to every call. "
     "Open a ticket for new incidents with POST {TARGET}/tickets and keep "
     "the returned id; on updates PUT {TARGET}/tickets/<id>.",
     "expect": {"new": [{"method": "POST", "path": "/tickets",
                         "header": ["x-api-key", "abc123"]}],
                "update": [{"method": "PUT", "path": "/tickets/EXT-1",
                            "header": ["x-api-key", "abc123"]}]}},
    {"id": "X10", "prompt": "Open a ServiceNow incident with a POST to "
     "{TARGET}/api/now/table/incident, short_description from the first "
     "alert's description and urgency 2. The sys_id comes back in "
     "result.sys_id; save it. When the incident resolves, PATCH "
     "{TARGET}/api/now/table/incident/<sys_id> with state 6.",
     "expect": {"new": [{"method": "POST", "path": "/api/now/table/incident",
                         "body_has": ["short_description", "CPU load"]}],
                "resolved": [{"method": "PATCH",
                              "path": "/api/now/table/incident/SYS-1",
                              "body_has": ["6"]}]}},
    {"id": "X11", "prompt": "Create a Jira issue in project OPS with a POST "
     "to {TARGET}/rest/api/2/issue and save the key. On updates, add a "
     "comment with POST {TARGET}/rest/api/2/issue/<key>/comment.",
     "expect": {"new": [{"method": "POST", "path": "/rest/api/2/issue",
                         "body_has": ["OPS"]}],
                "update": [{"method": "POST",
                            "path": "/rest/api/2/issue/OPS-1/comment"}]}},
    {"id": "X12", "prompt": "Open a Zendesk ticket at "
     "{TARGET}/api/v2/tickets.json and remember ticket.id. For updates, "
     "PUT {TARGET}/api/v2/tickets/<ticket id>.json with the new status.",
     "expect": {"new": [{"method": "POST", "path": "/api/v2/tickets.json"}],
                "update": [{"method": "PUT",
                            "path": "/api/v2/tickets/9001.json"}]}},
    {"id": "X13", "prompt": "Post the incident status to the Slack channel "
     "#alerts via {TARGET}/chat.postMessage, keep the message ts as the "
     "external id and reply in the same thread (thread_ts) on updates.",
     "expect": {"new": [{"method": "POST", "path": "/chat.postMessage",
                         "body_has": ["#alerts"]}],
                "update": [{"method": "POST", "path": "/chat.postMessage",
                            "body_has": ["1717236000.000101"]}]}},
    {"id": "X14", "prompt": "POST new incidents to {TARGET}/tickets and "
     "save the id. If it fails, post a notification to {TARGET}/alerts.",
     "expect": {"new": [{"method": "POST", "path": "/tickets"}],
                "new_when_target_fails": [{"method": "POST",
                                           "path": "/alerts"}]}},
    {"id": "X15", "prompt": "Trigger a PagerDuty event at {TARGET}/v2/enqueue "
     "using routing key RK-42, with the incident id as dedup_key; when the "
     "incident is resolved send event_action resolve instead.",
     "expect": {"new": [{"method": "POST", "path": "/v2/enqueue",
                         "body_has": ["trigger", "RK-42", "{incident_id}"]}],
                "resolved": [{"method": "POST", "path": "/v2/enqueue",
                              "body_has": ["resolve", "{incident_id}"]}]}},
    {"id": "X16", "prompt": "Use basic auth with username bot and password "
     "hunter22 and POST every incident to {TARGET}/events.",
     "expect": {"new": [{"method": "POST", "path": "/events",
                         "header": ["authorization", "Basic Ym90Omh1bnRlcjIy"]}]}},
    {"id": "X17", "prompt": "Send incidents to {TARGET}/events with a body "
     "containing the incident id, the alert count, the list of services "
     "from the alert tags, and priority mapped from severity "
     "(critical -> P1, warning -> P2, otherwise P3).",
     "expect": {"new": [{"method": "POST", "path": "/events",
                         "body_has": ["{incident_id}", "checkout", "P1"]}]}},
    {"id": "X18", "prompt": "If the environment tag is production, POST the "
     "incident to {TARGET}/prod; otherwise POST it to {TARGET}/other.",
     "expect": {"new": [{"method": "POST", "path": "/prod"}]}},
    {"id": "X19", "prompt": "Route on the event type: for incident#new POST "
     "to {TARGET}/tickets and save the id, for incident#updated PUT to "
     "{TARGET}/tickets/<external id>, and for incident#closed POST to "
     "{TARGET}/tickets/<external id>/close.",
     "expect": {"new": [{"method": "POST", "path": "/tickets"}],
                "update": [{"method": "PUT", "path": "/tickets/EXT-1"}],
                "closed": [{"method": "POST", "path": "/tickets/EXT-1/close"}]}},
    {"id": "X20", "prompt": "Create an Opsgenie alert by POSTing to "
     "{TARGET}/v2/alerts with the API key GenieKey-123 and the incident id "
     "as alias. When the incident is resolved, close it with POST "
     "{TARGET}/v2/alerts/<incident id>/close?identifierType=alias.",
     "expect": {"new": [{"method": "POST", "path": "/v2/alerts",
                         "header": ["authorization", "GenieKey GenieKey-123"]}],
                "resolved": [{"method": "POST",
                              "path": "/v2/alerts/{incident_id}/close"
                              "?identifierType=alias"}]}},
]


# More paraphrases: closing, failures, mappings, tags, terse and
# structured phrasings.
MORE_PARAPHRASES = [{'id': 'Y01',
  'prompt': 'When an incident is closed, send a DELETE request to '
            '{TARGET}/tickets/<external id>. New incidents should be created '
            'with POST {TARGET}/tickets (save the id).',
  'expect': {'new': [{'method': 'POST', 'path': '/tickets'}],
             'closed': [{'method': 'DELETE', 'path': '/tickets/EXT-1'}],
             'update': []}},
 {'id': 'Y02',
  'prompt': 'Create a ticket with POST {TARGET}/tickets for new incidents and '
            'save its id. If the request fails, POST the incident to '
            '{TARGET}/fallback instead.',
  'expect': {'new': [{'method': 'POST', 'path': '/tickets'}],
             'new_when_target_fails': [{'method': 'POST',
                                        'path': '/fallback'}]}},
 {'id': 'Y03',
  'prompt': 'Post every incident to {TARGET}/tickets. If that request fails, '
            'notify {TARGET}/alerts.',
  'expect': {'new': [{'method': 'POST', 'path': '/tickets'}],
             'new_when_target_fails': [{'method': 'POST',
                                        'path': '/alerts'}]}},
 {'id': 'Y04',
  'prompt': 'Map the incident severity to a priority (critical=P1, '
            'warning=P3) and POST {TARGET}/tickets with the priority and the '
            'incident id.',
  'expect': {'new': [{'method': 'POST',
                      'path': '/tickets',
                      'body_has': ['P1', '{incident_id}']}],
             'new_warning': [{'method': 'POST',
                              'path': '/tickets',
                              'body_has': ['P3']}]}},
 {'id': 'Y05',
  'prompt': 'Send new incidents to {TARGET}/tickets; when the incident '
            'closes, POST {TARGET}/tickets/<id>/close.',
  'expect': {'new': [{'method': 'POST', 'path': '/tickets'}],
             'closed': [{'method': 'POST', 'path': '/tickets/EXT-1/close'}]}},
 {'id': 'Y06',
  'prompt': 'Send the incident to {TARGET}/tickets, and if you get an error, '
            'send a message to {TARGET}/chat saying the ticket could not be '
            'created.',
  'expect': {'new': [{'method': 'POST', 'path': '/tickets'}],
             'new_when_target_fails': [{'method': 'POST',
                                        'path': '/chat',
                                        'body_has': ['could not be '
                                                     'created']}]}},
 {'id': 'Y07',
  'prompt': 'Use the bearer token xyz123 for all requests. POST incidents to '
            '{TARGET}/tickets.',
  'expect': {'new': [{'method': 'POST',
                      'path': '/tickets',
                      'header': ['authorization', 'Bearer xyz123']}]}},
 {'id': 'Y08',
  'prompt': 'On incident#closed events, PATCH {TARGET}/tickets/<external id> '
            'with status closed. For incident#new events POST '
            '{TARGET}/tickets and store the id.',
  'expect': {'new': [{'method': 'POST', 'path': '/tickets'}],
             'closed': [{'method': 'PATCH',
                         'path': '/tickets/EXT-1',
                         'body_has': ['closed']}]}},
 {'id': 'Y09',
  'prompt': 'Post to Zendesk at {TARGET}/api/v2/tickets.json for new '
            'incidents; save ticket.id; on updates add a comment via PUT '
            '{TARGET}/api/v2/tickets/<id>.json',
  'expect': {'new': [{'method': 'POST', 'path': '/api/v2/tickets.json'}],
             'update': [{'method': 'PUT',
                         'path': '/api/v2/tickets/9001.json'}]}},
 {'id': 'Y10',
  'prompt': 'For warning incidents, POST to {TARGET}/chat; for critical '
            'incidents POST to {TARGET}/pager.',
  'expect': {'new': [{'method': 'POST', 'path': '/pager'}],
             'new_warning': [{'method': 'POST', 'path': '/chat'}]}},
 {'id': 'Y11',
  'prompt': 'Create a Jira issue at {TARGET}/rest/api/2/issue with summary '
            'from the description. Save the id. For updates PUT to '
            '{TARGET}/rest/api/2/issue/<id>.',
  'expect': {'new': [{'method': 'POST',
                      'path': '/rest/api/2/issue',
                      'body_has': ['CPU load']}],
             'update': [{'method': 'PUT',
                         'path': '/rest/api/2/issue/10001'}]}},
 {'id': 'Y12',
  'prompt': "Send a POST to {TARGET}/events when the incident's severity is "
            'critical, including severity and status.',
  'expect': {'new': [{'method': 'POST',
                      'path': '/events',
                      'body_has': ['critical']}],
             'new_warning': []}},
 {'id': 'Y13',
  'prompt': 'Send incidents to {TARGET}/tickets with POST. Authentication: '
            'OAuth 2.0 client credentials; token endpoint '
            '{TARGET}/oauth/token; client ID mw-client; client secret s3cr3t; '
            'send the credentials in the request body.',
  'expect': {'new': [{'method': 'POST',
                      'path': '/oauth/token',
                      'body_has': ['client_secret=s3cr3t']},
                     {'method': 'POST',
                      'path': '/tickets',
                      'header': ['authorization', 'Bearer tok-']}],
             'require_token': True}},
 {'id': 'Y14',
  'prompt': "Post a message to {TARGET}/chat with the incident's description "
            "and status when it is new; when it is resolved post 'Incident "
            "<id> resolved' to the same endpoint.",
  'expect': {'new': [{'method': 'POST',
                      'path': '/chat',
                      'body_has': ['CPU load']}],
             'resolved': [{'method': 'POST',
                           'path': '/chat',
                           'body_has': ['resolved']}]}},
 {'id': 'Y15',
  'prompt': 'If creating the ticket at {TARGET}/tickets fails, POST the '
            'incident to {TARGET}/backup.',
  'expect': {'new': [{'method': 'POST', 'path': '/tickets'}],
             'new_when_target_fails': [{'method': 'POST',
                                        'path': '/backup'}]}},
 {'id': 'Y16',
  'prompt': 'Send incidents with status critical or warning to '
            '{TARGET}/alerts.',
  'expect': {'new': [{'method': 'POST', 'path': '/alerts'}],
             'new_warning': [{'method': 'POST', 'path': '/alerts'}],
             'resolved': []}},
 {'id': 'Y17',
  'prompt': 'Ignore incidents whose status is ok; send the rest to '
            '{TARGET}/x.',
  'expect': {'new': [{'method': 'POST', 'path': '/x'}], 'resolved': []}},
 {'id': 'Y18',
  'prompt': 'Send all critical incidents to {TARGET}/pager but ignore '
            'warnings.',
  'expect': {'new': [{'method': 'POST', 'path': '/pager'}],
             'new_warning': []}},
 {'id': 'Y19',
  'prompt': 'Create a ServiceNow incident (POST '
            '{TARGET}/api/now/table/incident) with urgency mapped from '
            'severity: critical -> 1, warning -> 2, else 3; caller_id set to '
            'bigpanda. Remember the sys_id. When the incident is closed, '
            'PATCH {TARGET}/api/now/table/incident/<sys_id> with state 7.',
  'expect': {'new': [{'method': 'POST',
                      'path': '/api/now/table/incident',
                      'body_has': ['bigpanda', 'urgency":"1']}],
             'closed': [{'method': 'PATCH',
                         'path': '/api/now/table/incident/SYS-1',
                         'body_has': ['7']}]}},
 {'id': 'Y20',
  'prompt': 'If the incident already has an external ID, PUT the status to '
            '{TARGET}/tickets/<external id>; otherwise POST it to '
            '{TARGET}/tickets and save the returned id.',
  'expect': {'new': [{'method': 'POST', 'path': '/tickets'}],
             'update': [{'method': 'PUT', 'path': '/tickets/EXT-1'}]}},
 {'id': 'Y21',
  'prompt': 'Every time an incident is updated, POST its status to '
            '{TARGET}/status. Do nothing for new incidents.',
  'expect': {'new': [],
             'update': [{'method': 'POST',
                         'path': '/status',
                         'body_has': ['critical']}]}},
 {'id': 'Y22',
  'prompt': 'Open a ticket at {TARGET}/tickets (POST) for new incidents, '
            'keeping the id. When the incident gets resolved, PUT '
            '{TARGET}/tickets/<id> with status resolved; on any other update, '
            'PATCH {TARGET}/tickets/<id> with the new status.',
  'expect': {'new': [{'method': 'POST', 'path': '/tickets'}],
             'update': [{'method': 'PATCH', 'path': '/tickets/EXT-1'}],
             'resolved': [{'method': 'PUT',
                           'path': '/tickets/EXT-1',
                           'body_has': ['resolved']}]}},
 {'id': 'Y23',
  'prompt': 'Open an Opsgenie alert via POST {TARGET}/v2/alerts using the '
            'incident id as the alias. When the incident is closed, close the '
            'alert with POST '
            '{TARGET}/v2/alerts/<alias>/close?identifierType=alias.',
  'expect': {'new': [{'method': 'POST',
                      'path': '/v2/alerts',
                      'body_has': ['{incident_id}']}],
             'closed': [{'method': 'POST',
                         'path': '/v2/alerts/{incident_id}/close?identifierType=alias'}]}},
 {'id': 'Y24',
  'prompt': 'Create Jira issues (project OPS, issue type Task) by POSTing to '
            '{TARGET}/rest/api/2/issue; keep the returned key. On every '
            'update add a comment to {TARGET}/rest/api/2/issue/<key>/comment '
            'containing the new status.',
  'expect': {'new': [{'method': 'POST',
                      'path': '/rest/api/2/issue',
                      'body_has': ['OPS', 'Task']}],
             'update': [{'method': 'POST',
                         'path': '/rest/api/2/issue/OPS-1/comment',
                         'body_has': ['critical']}]}},
 {'id': 'Y25',
  'prompt': 'New incident -> create a Zendesk ticket at '
            '{TARGET}/api/v2/tickets.json. Store ticket.id. Incident updated '
            '-> PUT {TARGET}/api/v2/tickets/{ticket_id}.json. Incident '
            'resolved -> PUT the same URL with status solved.',
  'expect': {'new': [{'method': 'POST', 'path': '/api/v2/tickets.json'}],
             'update': [{'method': 'PUT',
                         'path': '/api/v2/tickets/9001.json'}],
             'resolved': [{'method': 'PUT',
                           'path': '/api/v2/tickets/9001.json',
                           'body_has': ['solved']}]}},
 {'id': 'Y26',
  'prompt': 'Authenticate every call with HTTP basic auth (user: moonwire, '
            'password: Pa55word!) and POST the incident to '
            '{TARGET}/incidents.',
  'expect': {'new': [{'method': 'POST',
                      'path': '/incidents',
                      'header': ['authorization',
                                 'Basic bW9vbndpcmU6UGE1NXdvcmQh']}]}},
 {'id': 'Y27',
  'prompt': 'Send a JSON POST to {TARGET}/tickets with a priority field: 1 '
            'when the severity is critical, 2 when it is warning, 3 '
            'otherwise. Also include the incident id.',
  'expect': {'new': [{'method': 'POST',
                      'path': '/tickets',
                      'body_has': ['"priority":1', '{incident_id}']}],
             'new_warning': [{'method': 'POST',
                              'path': '/tickets',
                              'body_has': ['"priority":2']}]}},
 {'id': 'Y28',
  'prompt': 'Create a ticket (POST {TARGET}/tickets) and save the id. Should '
            'the call fail, report it to {TARGET}/errors.',
  'expect': {'new': [{'method': 'POST', 'path': '/tickets'}],
             'new_when_target_fails': [{'method': 'POST',
                                        'path': '/errors'}]}},
 {'id': 'Y29',
  'prompt': 'When the event type is incident#closed, DELETE '
            '{TARGET}/tickets/<external id>. When it is incident#new, POST '
            '{TARGET}/tickets and save the id from the response.',
  'expect': {'new': [{'method': 'POST', 'path': '/tickets'}],
             'closed': [{'method': 'DELETE', 'path': '/tickets/EXT-1'}],
             'update': []}},
 {'id': 'Y30',
  'prompt': 'Post a Slack message to {TARGET}/chat.postMessage on channel '
            "#ops saying 'Incident <id> (<severity>) is <status>'. Store ts. "
            'Updates should go to the same thread.',
  'expect': {'new': [{'method': 'POST',
                      'path': '/chat.postMessage',
                      'body_has': ['Incident {incident_id} (critical) is '
                                   'critical',
                                   '#ops']}],
             'update': [{'method': 'POST',
                         'path': '/chat.postMessage',
                         'body_has': ['1717236000.000101']}]}},
 {'id': 'Y31',
  'prompt': 'Get a bearer token with the client credentials flow from '
            '{TARGET}/oauth/token (client_id=mw-client, client_secret=s3cr3t, '
            'scope=tickets.write) and use it to POST new incidents to '
            '{TARGET}/tickets; store the id. Use the same token to PUT '
            'updates to {TARGET}/tickets/<id>.',
  'expect': {'new': [{'method': 'POST',
                      'path': '/oauth/token',
                      'body_has': ['scope=tickets.write']},
                     {'method': 'POST',
                      'path': '/tickets',
                      'header': ['authorization', 'Bearer tok-']}],
             'update': [{'method': 'POST', 'path': '/oauth/token'},
                        {'method': 'PUT',
                         'path': '/tickets/EXT-1',
                         'header': ['authorization', 'Bearer tok-']}],
             'require_token': True}},
 {'id': 'Y32',
  'prompt': 'Only incidents with severity critical should be sent: POST them '
            'to {TARGET}/critical.',
  'expect': {'new': [{'method': 'POST', 'path': '/critical'}],
             'new_warning': []}},
 {'id': 'Y33',
  'prompt': 'Send incidents whose status is not ok to '
            '{TARGET}/open-incidents.',
  'expect': {'new': [{'method': 'POST', 'path': '/open-incidents'}],
             'resolved': []}},
 {'id': 'Y34',
  'prompt': 'If the incident has an alert tag service with value checkout, '
            'POST it to {TARGET}/checkout-team.',
  'expect': {'new': [{'method': 'POST', 'path': '/checkout-team'}]}},
 {'id': 'Y35',
  'prompt': 'Webhook: {TARGET}/hook. Method: PUT. Body: incident id, status '
            'and description.',
  'expect': {'new': [{'method': 'PUT',
                      'path': '/hook',
                      'body_has': ['{incident_id}', 'CPU load']}]}},
 {'id': 'Y36',
  'prompt': 'Send new incidents to ServiceNow at '
            '{TARGET}/api/now/table/incident and save result.sys_id. Resolve '
            'the ServiceNow incident (state 6) when the BigPanda incident is '
            'resolved.',
  'expect': {'new': [{'method': 'POST', 'path': '/api/now/table/incident'}],
             'resolved': [{'method': 'PATCH',
                           'path': '/api/now/table/incident/SYS-1',
                           'body_has': ['6']}]}},
 {'id': 'Y37',
  'prompt': 'Trigger PagerDuty ({TARGET}/v2/enqueue, routing key RK1) for new '
            'incidents and resolve the event when the incident is closed. Use '
            'the incident id as dedup key.',
  'expect': {'new': [{'method': 'POST',
                      'path': '/v2/enqueue',
                      'body_has': ['trigger', 'RK1']}],
             'closed': [{'method': 'POST',
                         'path': '/v2/enqueue',
                         'body_has': ['resolve', '{incident_id}']}]}},
 {'id': 'Y38',
  'prompt': 'Post updates about incidents to {TARGET}/updates, but send brand '
            'new incidents to {TARGET}/new.',
  'expect': {'new': [{'method': 'POST', 'path': '/new'}],
             'update': [{'method': 'POST', 'path': '/updates'}]}},
 {'id': 'Y39',
  'prompt': 'Send the whole incident payload to {TARGET}/raw using PUT.',
  'expect': {'new': [{'method': 'PUT',
                      'path': '/raw',
                      'body_has': ['app-node-01.example.internal']}]}},
 {'id': 'Y40',
  'prompt': 'For every share, POST {TARGET}/audit with the event type and the '
            'incident id.',
  'expect': {'new': [{'method': 'POST',
                      'path': '/audit',
                      'body_has': ['incident#new', '{incident_id}']}],
             'closed': [{'method': 'POST',
                         'path': '/audit',
                         'body_has': ['incident#closed']}]}},
 {'id': 'Y41',
  'prompt': 'create ticket POST {TARGET}/tickets save id; update PUT '
            '{TARGET}/tickets/{id}; close DELETE {TARGET}/tickets/{id}',
  'expect': {'new': [{'method': 'POST', 'path': '/tickets'}],
             'update': [{'method': 'PUT', 'path': '/tickets/EXT-1'}],
             'closed': [{'method': 'DELETE', 'path': '/tickets/EXT-1'}]}},
 {'id': 'Y42',
  'prompt': 'Please send an HTTP POST to {TARGET}/notify whenever a critical '
            'incident is opened.',
  'expect': {'new': [{'method': 'POST', 'path': '/notify'}],
             'new_warning': []}},
 {'id': 'Y43',
  'prompt': 'I need the incident id, the number of alerts and the host names '
            'in a POST to {TARGET}/inventory.',
  'expect': {'new': [{'method': 'POST',
                      'path': '/inventory',
                      'body_has': ['{incident_id}',
                                   'app-node-01.example.internal']}]}},
 {'id': 'Y44',
  'prompt': 'Send to {TARGET}/x with header X-Team: sre and header X-Token: '
            't0k3n-abc.',
  'expect': {'new': [{'method': 'POST',
                      'path': '/x',
                      'header': ['x-token', 't0k3n-abc']}]}}]


# Rephrasings of each shared prompt (ids follow the prompt they rephrase).
REPHRASED = [{'id': 'Z01a',
  'prompt': 'Build a workflow that checks whether the incident is new. New '
            'ones: reshape the payload and POST it to my endpoint '
            '{TARGET}/tickets, then store the external id the response '
            'returns. Updates: add the external id to the payload and send it '
            'to {TARGET}/tickets/update.',
  'expect': {'new': [{'method': 'POST',
                      'path': '/tickets',
                      'body_has': ['{incident_id}']}],
             'update': [{'method': 'POST',
                         'path': '/tickets/update',
                         'body_has': ['EXT-1']}]}},
 {'id': 'Z01b',
  'prompt': 'First time an incident is shared: send it to {TARGET}/tickets '
            'and link the returned id. Every later share: send it to '
            '{TARGET}/tickets/update including that external id.',
  'expect': {'new': [{'method': 'POST',
                      'path': '/tickets',
                      'body_has': ['{incident_id}']}],
             'update': [{'method': 'POST',
                         'path': '/tickets/update',
                         'body_has': ['EXT-1']}]}},
 {'id': 'Z02a',
  'prompt': 'POST each incident as JSON to {TARGET}/hooks/incidents; the body '
            "should have the incident's id, its status and its severity.",
  'expect': {'new': [{'method': 'POST',
                      'path': '/hooks/incidents',
                      'body_has': ['{incident_id}', 'critical']}],
             'update': [{'method': 'POST',
                         'path': '/hooks/incidents',
                         'body_has': ['{incident_id}']}]}},
 {'id': 'Z02b',
  'prompt': 'Relay all incident shares to {TARGET}/hooks/incidents (HTTP '
            'POST, JSON body with id, status, severity).',
  'expect': {'new': [{'method': 'POST',
                      'path': '/hooks/incidents',
                      'body_has': ['{incident_id}', 'critical']}],
             'update': [{'method': 'POST', 'path': '/hooks/incidents'}]}},
 {'id': 'Z03a',
  'prompt': 'Open a ticket by POSTing to {TARGET}/tickets the first time an '
            'incident is shared, and keep the id that comes back. When the '
            'same incident is shared again, PUT its new status to '
            '{TARGET}/tickets/{id}.',
  'expect': {'new': [{'method': 'POST', 'path': '/tickets'}],
             'update': [{'method': 'PUT', 'path': '/tickets/EXT-1'}]}},
 {'id': 'Z04a',
  'prompt': 'Fetch an access token (OAuth2, client credentials) from '
            '{TARGET}/oauth/token — client ID mw-client, client secret s3cr3t '
            '— and POST the incident to {TARGET}/tickets with Authorization: '
            'Bearer <token>. Keep the ticket id.',
  'expect': {'new': [{'method': 'POST', 'path': '/oauth/token'},
                     {'method': 'POST',
                      'path': '/tickets',
                      'header': ['authorization', 'Bearer tok-']}],
             'require_token': True}},
 {'id': 'Z04b',
  'prompt': 'The API at {TARGET}/tickets needs OAuth: request a token from '
            '{TARGET}/oauth/token using client_credentials with client id '
            '"mw-client" and secret "s3cr3t". Then create a ticket there '
            '(POST) for every incident and save the id.',
  'expect': {'new': [{'method': 'POST', 'path': '/oauth/token'},
                     {'method': 'POST',
                      'path': '/tickets',
                      'header': ['authorization', 'Bearer tok-']}],
             'require_token': True}},
 {'id': 'Z05a',
  'prompt': "Page on critical only: when an incident's status is critical, "
            "POST it to {TARGET}/pager; for any other status, don't send "
            'anything.',
  'expect': {'new': [{'method': 'POST', 'path': '/pager'}],
             'new_warning': []}},
 {'id': 'Z05b',
  'prompt': 'Forward incidents to {TARGET}/pager, but only the critical ones.',
  'expect': {'new': [{'method': 'POST', 'path': '/pager'}],
             'new_warning': []}},
 {'id': 'Z07a',
  'prompt': 'Each time an incident is shared, send a chat message to '
            "{TARGET}/chat with the text 'Incident <id> is <status>'.",
  'expect': {'new': [{'method': 'POST',
                      'path': '/chat',
                      'body_has': ['Incident {incident_id} is critical']}]}},
 {'id': 'Z07b',
  'prompt': 'Notify {TARGET}/chat on every share; message: "Incident {id} is '
            '{status}".',
  'expect': {'new': [{'method': 'POST',
                      'path': '/chat',
                      'body_has': ['Incident {incident_id} is critical']}]}},
 {'id': 'Z08a',
  'prompt': 'New incident: create a record (POST {TARGET}/tickets) and use '
            'the id field of the response as external id. Incident update: '
            'PATCH {TARGET}/tickets/<external id> with the current status.',
  'expect': {'new': [{'method': 'POST', 'path': '/tickets'}],
             'update': [{'method': 'PATCH',
                         'path': '/tickets/EXT-1',
                         'body_has': ['critical']}]}},
 {'id': 'Z10a',
  'prompt': 'All calls need an X-Api-Key header with value abc123. Create '
            'tickets for new incidents with POST {TARGET}/tickets (remember '
            'the returned id) and update them with PUT {TARGET}/tickets/<id> '
            'on later shares.',
  'expect': {'new': [{'method': 'POST',
                      'path': '/tickets',
                      'header': ['x-api-key', 'abc123']}],
             'update': [{'method': 'PUT',
                         'path': '/tickets/EXT-1',
                         'header': ['x-api-key', 'abc123']}]}},
 {'id': 'Z11a',
  'prompt': 'ServiceNow: POST {TARGET}/api/now/table/incident with '
            'short_description = first alert description and urgency = 1; '
            'store result.sys_id. Later shares: PATCH '
            '{TARGET}/api/now/table/incident/<sys_id> with the state.',
  'expect': {'new': [{'method': 'POST',
                      'path': '/api/now/table/incident',
                      'body_has': ['short_description']}],
             'update': [{'method': 'PATCH',
                         'path': '/api/now/table/incident/SYS-1'}]}},
 {'id': 'Z11b',
  'prompt': 'Open incidents in ServiceNow ({TARGET}/api/now/table/incident, '
            'POST). Use the description of the first alert as '
            'short_description, set urgency to 1 and keep result.sys_id as '
            'the external ID; PATCH {TARGET}/api/now/table/incident/{sys_id} '
            'with the new state when the incident is updated.',
  'expect': {'new': [{'method': 'POST',
                      'path': '/api/now/table/incident',
                      'body_has': ['short_description', 'CPU load']}],
             'update': [{'method': 'PATCH',
                         'path': '/api/now/table/incident/SYS-1'}]}},
 {'id': 'Z13a',
  'prompt': 'Send a message with the incident status to channel #ops through '
            'the Slack-like API {TARGET}/chat.postMessage; the ts in the '
            'answer is the external id; later messages for the same incident '
            'go in that thread (thread_ts = the saved id).',
  'expect': {'new': [{'method': 'POST',
                      'path': '/chat.postMessage',
                      'body_has': ['#ops']}],
             'update': [{'method': 'POST',
                         'path': '/chat.postMessage',
                         'body_has': ['1717236000.000101']}]}},
 {'id': 'Z17a',
  'prompt': 'POST to {TARGET}/events a JSON body with: the incident id, how '
            "many alerts it has, and the hosts (from the alerts' host tags).",
  'expect': {'new': [{'method': 'POST',
                      'path': '/events',
                      'body_has': ['{incident_id}',
                                   'app-node-01.example.internal']}]}},
 {'id': 'Z19a',
  'prompt': 'PagerDuty Events v2 at {TARGET}/v2/enqueue: routing key R0UT1NG, '
            'dedup key = incident id; send event_action trigger while the '
            'incident is active and resolve once it is no longer active.',
  'expect': {'new': [{'method': 'POST',
                      'path': '/v2/enqueue',
                      'body_has': ['trigger', '{incident_id}', 'R0UT1NG']}],
             'resolved': [{'method': 'POST',
                           'path': '/v2/enqueue',
                           'body_has': ['resolve']}]}},
 {'id': 'Z19b',
  'prompt': 'Send PagerDuty-style events to {TARGET}/v2/enqueue with '
            'routing_key R0UT1NG and the incident id as dedup_key: trigger '
            'for active incidents, resolve for inactive ones.',
  'expect': {'new': [{'method': 'POST',
                      'path': '/v2/enqueue',
                      'body_has': ['trigger', '{incident_id}', 'R0UT1NG']}],
             'resolved': [{'method': 'POST',
                           'path': '/v2/enqueue',
                           'body_has': ['resolve']}]}}]


# Other styles: asides, casual and list-shaped prompts, declared endpoints.
STYLES = [{'id': 'H01',
  'prompt': "I'd like new BigPanda incidents to become tickets: POST them to "
            '{TARGET}/tickets and hang on to the id in the response. Any '
            'follow-up share should PUT to {TARGET}/tickets/<id>.',
  'expect': {'new': [{'method': 'POST', 'path': '/tickets'}],
             'update': [{'method': 'PUT', 'path': '/tickets/EXT-1'}]}},
 {'id': 'H02',
  'prompt': 'Just forward everything to {TARGET}/ingest.',
  'expect': {'new': [{'method': 'POST',
                      'path': '/ingest',
                      'body_has': ['{incident_id}']}],
             'update': [{'method': 'POST', 'path': '/ingest'}]}},
 {'id': 'H03',
  'prompt': 'Critical incidents go to {TARGET}/oncall via POST; warnings go '
            'to {TARGET}/backlog.',
  'expect': {'new': [{'method': 'POST', 'path': '/oncall'}],
             'new_warning': [{'method': 'POST', 'path': '/backlog'}]}},
 {'id': 'H04',
  'prompt': 'Create a ServiceNow incident via {TARGET}/api/now/table/incident '
            'when the incident first appears; keep its sys_id. Close it '
            '(PATCH {TARGET}/api/now/table/incident/<sys_id>, state 7) when '
            'BigPanda closes the incident.',
  'expect': {'new': [{'method': 'POST', 'path': '/api/now/table/incident'}],
             'closed': [{'method': 'PATCH',
                         'path': '/api/now/table/incident/SYS-1',
                         'body_has': ['7']}]}},
 {'id': 'H05',
  'prompt': 'Post to {TARGET}/notify with the title and status of the '
            'incident; should that fail, POST the same data to '
            '{TARGET}/notify-backup.',
  'expect': {'new': [{'method': 'POST',
                      'path': '/notify',
                      'body_has': ['CPU load']}]}},
 {'id': 'H06',
  'prompt': "Authorization header for all calls: 'Bearer sk_live_123'. New "
            'incidents -> POST {TARGET}/tickets (save id). Updates -> PATCH '
            '{TARGET}/tickets/<id>.',
  'expect': {'new': [{'method': 'POST',
                      'path': '/tickets',
                      'header': ['authorization', 'Bearer sk_live_123']}],
             'update': [{'method': 'PATCH',
                         'path': '/tickets/EXT-1',
                         'header': ['authorization', 'Bearer sk_live_123']}]}},
 {'id': 'H07',
  'prompt': 'When a new incident is shared, create a Jira issue with POST '
            '{TARGET}/rest/api/2/issue (project OPS). Save the issue key that '
            'comes back. When the incident is resolved, comment on the issue '
            'via {TARGET}/rest/api/2/issue/<key>/comment.',
  'expect': {'new': [{'method': 'POST',
                      'path': '/rest/api/2/issue',
                      'body_has': ['OPS']}],
             'resolved': [{'method': 'POST',
                           'path': '/rest/api/2/issue/OPS-1/comment'}]}},
 {'id': 'H08',
  'prompt': 'Send a Slack message to {TARGET}/chat.postMessage (channel #sre) '
            'for each new incident and remember the message ts; when the '
            'incident resolves, reply in the thread saying it is resolved.',
  'expect': {'new': [{'method': 'POST',
                      'path': '/chat.postMessage',
                      'body_has': ['#sre']}],
             'resolved': [{'method': 'POST',
                           'path': '/chat.postMessage',
                           'body_has': ['1717236000.000101', 'resolved']}]}},
 {'id': 'H09',
  'prompt': 'Our endpoint {TARGET}/api/events expects a PUT with the incident '
            'id, status, severity and the list of services from the alert '
            'tags.',
  'expect': {'new': [{'method': 'PUT',
                      'path': '/api/events',
                      'body_has': ['{incident_id}', 'checkout']}]}},
 {'id': 'H10',
  'prompt': 'Get OAuth tokens from {TARGET}/oauth/token (client credentials; '
            'client id mw-client; secret s3cr3t). With that token, open '
            'tickets for new incidents at {TARGET}/tickets and save their id; '
            'when the incident is closed, DELETE {TARGET}/tickets/<id>.',
  'expect': {'new': [{'method': 'POST', 'path': '/oauth/token'},
                     {'method': 'POST',
                      'path': '/tickets',
                      'header': ['authorization', 'Bearer tok-']}],
             'closed': [{'method': 'POST', 'path': '/oauth/token'},
                        {'method': 'DELETE',
                         'path': '/tickets/EXT-1',
                         'header': ['authorization', 'Bearer tok-']}],
             'require_token': True}},
 {'id': 'H11',
  'prompt': 'Escalate to PagerDuty ({TARGET}/v2/enqueue, routing key PDKEY-1) '
            'only when severity is critical. Use the incident id as dedup '
            'key.',
  'expect': {'new': [{'method': 'POST',
                      'path': '/v2/enqueue',
                      'body_has': ['PDKEY-1', '{incident_id}', 'trigger']}],
             'new_warning': []}},
 {'id': 'H12',
  'prompt': 'Zendesk integration: tickets are created at '
            '{TARGET}/api/v2/tickets.json with the subject taken from the '
            'first alert description and priority urgent; store ticket.id. On '
            'each update, PUT {TARGET}/api/v2/tickets/<id>.json.',
  'expect': {'new': [{'method': 'POST',
                      'path': '/api/v2/tickets.json',
                      'body_has': ['CPU load', 'urgent']}],
             'update': [{'method': 'PUT',
                         'path': '/api/v2/tickets/9001.json'}]}},
 {'id': 'H13',
  'prompt': 'POST {TARGET}/alerts for incidents tagged '
            'environment=production. Do nothing for other environments.',
  'expect': {'new': [{'method': 'POST', 'path': '/alerts'}]}},
 {'id': 'H14',
  'prompt': 'On the incident#closed event only, POST {TARGET}/closed with the '
            'incident id.',
  'expect': {'new': [],
             'closed': [{'method': 'POST',
                         'path': '/closed',
                         'body_has': ['{incident_id}']}]}},
 {'id': 'H15',
  'prompt': 'Send every incident to {TARGET}/webhook with a summary field '
            'that reads "[<severity>] <description>".',
  'expect': {'new': [{'method': 'POST',
                      'path': '/webhook',
                      'body_has': ['[critical] CPU load 97%']}]}},
 {'id': 'H16',
  'prompt': 'Make a POST to {TARGET}/tickets for new incidents and store the '
            'returned id. If the ticket service is down, send the incident to '
            '{TARGET}/queue.',
  'expect': {'new': [{'method': 'POST', 'path': '/tickets'}],
             'new_when_target_fails': [{'method': 'POST', 'path': '/queue'}]}},
 {'id': 'H17',
  'prompt': 'Open an Opsgenie alert (POST {TARGET}/v2/alerts, alias = '
            'incident id, priority P1 for critical and P3 otherwise).',
  'expect': {'new': [{'method': 'POST',
                      'path': '/v2/alerts',
                      'body_has': ['P1', '{incident_id}']}],
             'new_warning': [{'method': 'POST',
                              'path': '/v2/alerts',
                              'body_has': ['P3']}]}},
 {'id': 'H18',
  'prompt': "For updates, send the incident's status to {TARGET}/status-sync "
            'via PATCH. Ignore new incidents.',
  'expect': {'new': [],
             'update': [{'method': 'PATCH',
                         'path': '/status-sync',
                         'body_has': ['critical']}]}},
 {'id': 'H19',
  'prompt': 'Use HTTP basic authentication (username svc, password Secr3t!) '
            'to POST new incidents to {TARGET}/tickets, keeping the id, and '
            'PUT updates to {TARGET}/tickets/{id}.',
  'expect': {'new': [{'method': 'POST',
                      'path': '/tickets',
                      'header': ['authorization', 'Basic c3ZjOlNlY3IzdCE=']}],
             'update': [{'method': 'PUT', 'path': '/tickets/EXT-1'}]}},
 {'id': 'H20',
  'prompt': 'Send a JSON POST to {TARGET}/events with event_type, incident_id '
            'and a field called source set to "bigpanda".',
  'expect': {'new': [{'method': 'POST',
                      'path': '/events',
                      'body_has': ['incident#new',
                                   'bigpanda',
                                   '{incident_id}']}]}},
 {'id': 'K01',
  'prompt': 'Workflow:\n'
            '- if the incident is new: POST {TARGET}/tickets, save the id\n'
            '- if it is an update: PUT {TARGET}/tickets/<id>\n'
            '- if it is closed: DELETE {TARGET}/tickets/<id>',
  'expect': {'new': [{'method': 'POST', 'path': '/tickets'}],
             'update': [{'method': 'PUT', 'path': '/tickets/EXT-1'}],
             'closed': [{'method': 'DELETE', 'path': '/tickets/EXT-1'}]}},
 {'id': 'K02',
  'prompt': 'hey, can you ping {TARGET}/hooks with every incident? json '
            'please, include status + severity + id',
  'expect': {'new': [{'method': 'POST',
                      'path': '/hooks',
                      'body_has': ['critical', '{incident_id}']}]}},
 {'id': 'K03',
  'prompt': '1. Get a token: POST {TARGET}/oauth/token, client id mw-client, '
            'client secret s3cr3t.\n'
            '2. Create the ticket: POST {TARGET}/tickets with the bearer '
            'token.\n'
            '3. Store the id from the response.',
  'expect': {'new': [{'method': 'POST', 'path': '/oauth/token'},
                     {'method': 'POST',
                      'path': '/tickets',
                      'header': ['authorization', 'Bearer tok-']}],
             'require_token': True}},
 {'id': 'K04',
  'prompt': 'When severity is warning, post a message to {TARGET}/chat that '
            'says "Warning: <description>". Critical ones should go to '
            '{TARGET}/pager instead.',
  'expect': {'new': [{'method': 'POST', 'path': '/pager'}],
             'new_warning': [{'method': 'POST',
                              'path': '/chat',
                              'body_has': ['Warning: CPU load']}]}},
 {'id': 'K05',
  'prompt': 'Integrate with ServiceNow at {TARGET}. New incidents create '
            'records in the incident table; save result.sys_id; updates PATCH '
            'the record.',
  'expect': {'new': [{'method': 'POST', 'path': '/api/now/table/incident'}],
             'update': [{'method': 'PATCH',
                         'path': '/api/now/table/incident/SYS-1'}]}},
 {'id': 'K06',
  'prompt': 'Tickets: {TARGET}/tickets. Create on new incidents (POST, save '
            'id), update on changes (PUT {TARGET}/tickets/<id>). Header '
            'X-Tenant: acme on every request.',
  'expect': {'new': [{'method': 'POST',
                      'path': '/tickets',
                      'header': ['x-tenant', 'acme']}],
             'update': [{'method': 'PUT',
                         'path': '/tickets/EXT-1',
                         'header': ['x-tenant', 'acme']}]}},
 {'id': 'K07',
  'prompt': 'Send resolved incidents to {TARGET}/resolved and everything else '
            'to {TARGET}/open.',
  'expect': {'new': [{'method': 'POST', 'path': '/open'}],
             'resolved': [{'method': 'POST', 'path': '/resolved'}]}},
 {'id': 'K08',
  'prompt': "POST the incident to {TARGET}/tickets when it's first shared and "
            'remember the ticket id. If that POST fails, POST a notification '
            'to {TARGET}/alerts instead.',
  'expect': {'new': [{'method': 'POST', 'path': '/tickets'}],
             'new_when_target_fails': [{'method': 'POST',
                                        'path': '/alerts'}]}},
 {'id': 'K09',
  'prompt': 'Create Zendesk tickets ({TARGET}/api/v2/tickets.json) for new '
            'incidents; priority should be mapped from the severity. Keep '
            'ticket.id.',
  'expect': {'new': [{'method': 'POST',
                      'path': '/api/v2/tickets.json',
                      'body_has': ['urgent']}]}},
 {'id': 'K10',
  'prompt': 'For each incident update, POST a note with the current status to '
            '{TARGET}/tickets/<external id>/notes. New incidents: POST '
            '{TARGET}/tickets and save the id.',
  'expect': {'new': [{'method': 'POST', 'path': '/tickets'}],
             'update': [{'method': 'POST',
                         'path': '/tickets/EXT-1/notes',
                         'body_has': ['critical']}]}},
 {'id': 'K11',
  'prompt': 'Use Slack ({TARGET}/chat.postMessage, channel #noc). Post the '
            "incident description when it's new and save ts. Post status "
            'changes as thread replies.',
  'expect': {'new': [{'method': 'POST',
                      'path': '/chat.postMessage',
                      'body_has': ['#noc', 'CPU load']}],
             'update': [{'method': 'POST',
                         'path': '/chat.postMessage',
                         'body_has': ['1717236000.000101']}]}},
 {'id': 'K12',
  'prompt': 'Send a PATCH to {TARGET}/incidents/<incident id> with the status '
            'whenever an incident is shared.',
  'expect': {'new': [{'method': 'PATCH',
                      'path': '/incidents/{incident_id}',
                      'body_has': ['critical']}]}}]


def substitute(value, incident_id):
    if isinstance(value, str):
        return value.replace("{incident_id}", incident_id)
    if isinstance(value, list):
        return [substitute(v, incident_id) for v in value]
    return value


def check_requests(got, want, incident_id):
    """Returns a list of problems ([] when the requests match)."""
    problems = []
    if len(got) != len(want):
        problems.append("expected %d request(s), got %d: %s" % (
            len(want), len(got), [(r["method"], r["path"]) for r in got]))
    for i, (g, w) in enumerate(zip(got, want)):
        if g["method"] != w["method"] or g["path"] != substitute(
                w["path"], incident_id):
            problems.append("request %d: expected %s %s, got %s %s" % (
                i, w["method"], substitute(w["path"], incident_id),
                g["method"], g["path"]))
        for sub in substitute(w.get("body_has", []), incident_id):
            if sub not in g["body"]:
                problems.append("request %d: body lacks %r: %s" % (
                    i, sub, g["body"][:400]))
        if "header" in w:
            name, prefix = w["header"]
            have = g["headers"].get(name.lower(), "")
            if not have.startswith(prefix):
                problems.append("request %d: header %s is %r, expected %r..."
                                % (i, name, have, prefix))
    return problems


def generate(mw, prompt, provider="builtin", env=None, extra=()):
    """Generates into mw's database; returns (workflow path, stderr)."""
    args = ["generate", "--db", mw.path("mw.db")]
    if provider != "builtin":
        args += ["--provider", provider]
    args += list(extra) + [prompt]
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([mw.binary] + args, capture_output=True, text=True,
                       timeout=120, env=e, cwd=mw.dir)
    expect(p.returncode == 0, "moonwire generate failed (%d)" % p.returncode,
           p.stderr[-3000:])
    doc = json.loads(p.stdout)
    path = mw.write("workflow.json", doc)
    rc, lines, err = mw.run("validate", path)
    expect(rc == 0, "the generated workflow does not validate", lines, err)
    return path, p.stderr


def run_scenario(binary, entry, scenario, target, provider="builtin", env=None):
    """Generates the prompt's workflow into a fresh database and runs the
    scenario; returns a list of problems ([] on success)."""
    incident = load_payload(BASE)
    mw = Moonwire(binary)
    prompt = entry["prompt"].replace("{TARGET}", target.url)
    wf, gen_err = generate(mw, prompt, provider, env)
    db = mw.path("mw.db")
    target.reset()
    if scenario in AFTER_NEW:
        mw.write("first.json", share_for("new", incident))
        mw.run("run", wf, mw.path("first.json"), "--db", db)
    if scenario == "new_when_target_fails":
        target.fail(500, 1000, "/tickets")
    before = len(target.requests())
    share = share_for(scenario, incident)
    mw.write("share.json", share)
    rc, lines, err = mw.run("run", wf, mw.path("share.json"), "--db", db)
    got = target.requests()[before:]
    if scenario == "new_when_target_fails":
        got = [r for r in got if not r["path"].startswith("/tickets")]
    problems = check_requests(got, entry["expect"][scenario],
                              share["incident"]["id"])
    if problems:
        problems.append("run: %s %s" % (lines, err[-800:]))
        problems.append("generate: %s" % gen_err[-1500:])
    return problems


def scenarios_of(entry):
    return [k for k in entry["expect"] if k != "require_token"]


class Targets:
    """One target as is and one that requires a token, started lazily."""

    def __init__(self):
        self.plain = None
        self.token = None

    def get(self, entry):
        if entry["expect"].get("require_token"):
            if not self.token:
                self.token = Target(REQUIRE_TOKEN=1)
            return self.token
        if not self.plain:
            self.plain = Target()
        return self.plain

    def close(self):
        for t in (self.plain, self.token):
            if t:
                t.close()


def load_prompts():
    with open(PROMPTS, encoding="utf-8") as f:
        return json.load(f)


# ---- the openai provider against a fake chat-completions server ------------

class FakeLLM:
    def __init__(self, mode="repair"):
        self.proc = subprocess.Popen([sys.executable, FAKE_LLM, "--mode", mode],
                                     stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline())
        self.url = "http://127.0.0.1:%d" % self.port

    def requests(self):
        import urllib.request
        with urllib.request.urlopen(self.url + "/_requests", timeout=10) as r:
            return json.loads(r.read())

    def close(self):
        self.proc.kill()
        self.proc.wait()


def llm_env(llm):
    return {"MOONWIRE_LLM_URL": llm.url + "/v1",
            "MOONWIRE_LLM_MODEL": "fake-model",
            "MOONWIRE_LLM_API_KEY": "sk-test-123"}


def openai_repairs_an_invalid_answer(binary, targets):
    llm = FakeLLM("repair")
    try:
        target = targets.get({"expect": {}})
        mw = Moonwire(binary)
        prompt = ("When an incident is new, POST it to %s/tickets and save "
                  "the id; on updates PUT %s/tickets/<id>. The API key is "
                  "k3y-v4lue." % (target.url, target.url))
        wf, err = generate(mw, prompt, "openai", llm_env(llm))
        reqs = llm.requests()
        expect(len(reqs) == 2, "one answer and one repair round", reqs)
        first, second = reqs
        expect(first["headers"].get("authorization") == "Bearer sk-test-123",
               "the API key goes in the Authorization header", first["headers"])
        body = json.loads(first["body"])
        expect(body["model"] == "fake-model", "model", body)
        system = body["messages"][0]["content"]
        expect("http_request" in system and "flow_control" in system,
               "the node catalog is in the system prompt", system[:500])
        expect("k3y-v4lue" not in first["body"] + second["body"],
               "the secret never reaches the model")
        repair = json.loads(second["body"])["messages"][-1]["content"]
        expect("$.connections" in repair or "$.nodes" in repair,
               "the repair round names the validation errors", repair)
        expect("repair" in err.lower() or "round" in err.lower(),
               "the repair is reported", err)
        with open(wf) as f:
            text = f.read()
        expect("k3y-v4lue" not in text, "the secret is not in the workflow")
        target.reset()
        inc = load_payload(BASE)
        mw.write("new.json", share_for("new", inc))
        mw.write("upd.json", share_for("update", inc))
        rc, lines, e2 = mw.run("run", wf, mw.path("new.json"), mw.path("upd.json"),
                               "--db", mw.path("mw.db"))
        expect(rc == 0, "the repaired workflow runs", lines, e2)
        got = [(r["method"], r["path"]) for r in target.requests()]
        expect(got == [("POST", "/tickets"), ("PUT", "/tickets/EXT-1")],
               "create then update", got)
        expect(all(r["headers"].get("x-api-key") == "k3y-v4lue"
                   for r in target.requests()),
               "the key is read from the secret setting",
               [r["headers"] for r in target.requests()])
    finally:
        llm.close()


def openai_falls_back_when_the_model_never_validates(binary, targets):
    llm = FakeLLM("invalid")
    try:
        target = targets.get({"expect": {}})
        mw = Moonwire(binary)
        wf, err = generate(mw, "POST every incident to %s/hooks" % target.url,
                           "openai", llm_env(llm))
        expect(len(llm.requests()) == 3, "two repair rounds by default",
               len(llm.requests()))
        expect("builtin" in err, "the fallback is reported", err)
        target.reset()
        mw.write("new.json", share_for("new", load_payload(BASE)))
        rc, lines, e2 = mw.run("run", wf, mw.path("new.json"), "--db",
                               mw.path("mw.db"))
        expect(rc == 0 and [r["path"] for r in target.requests()] == ["/hooks"],
               "the builtin draft runs", lines, e2, target.requests())
    finally:
        llm.close()


def openai_unreachable_falls_back(binary, targets):
    mw = Moonwire(binary)
    target = targets.get({"expect": {}})
    env = {"MOONWIRE_LLM_URL": "http://127.0.0.1:9/v1",
           "MOONWIRE_LLM_MODEL": "none"}
    wf, err = generate(mw, "POST every incident to %s/hooks" % target.url,
                       "openai", env)
    expect("builtin" in err and "warning" in err, "fallback warning", err)


def cannot_handle_gives_a_valid_partial_draft(binary, targets):
    mw = Moonwire(binary)
    wf, err = generate(mw, "Make me a sandwich with extra pickles.")
    expect("warning" in err, "warnings explain the partial draft", err)


def secrets_never_leave(binary, targets):
    mw = Moonwire(binary)
    target = targets.get({"expect": {}})
    wf, err = generate(mw, "Get a token from %s/oauth/token with client id "
                       "mw-client and client secret s3cr3t, then POST the "
                       "incident to %s/tickets." % (target.url, target.url))
    with open(wf) as f:
        text = f.read()
    expect("s3cr3t" not in text and "s3cr3t" not in err,
           "the secret is neither printed nor in the workflow", err)
    expect("client_secret" in err, "the secret setting is named", err)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--moonwire", required=True)
    ap.add_argument("--only", help="run prompts whose id starts with this")
    opts = ap.parse_args()
    R = Runner()
    targets = Targets()
    entries = (load_prompts() + PARAPHRASES + MORE_PARAPHRASES
               + REPHRASED + STYLES)
    for entry in entries:
        if opts.only and not entry["id"].startswith(opts.only):
            continue
        for sc in scenarios_of(entry):
            def case(entry=entry, sc=sc):
                problems = run_scenario(opts.moonwire, entry, sc,
                                        targets.get(entry))
                expect(not problems, "\n".join(problems))
            R.case("%s %s: %s" % (entry["id"], sc, entry["prompt"][:60]))(case)
    if not opts.only:
        for fn in (openai_repairs_an_invalid_answer,
                   openai_falls_back_when_the_model_never_validates,
                   openai_unreachable_falls_back,
                   cannot_handle_gives_a_valid_partial_draft,
                   secrets_never_leave):
            R.case(fn.__name__.replace("_", " "))(
                lambda fn=fn: fn(opts.moonwire, targets))
    targets.close()
    return R.finish()


if __name__ == "__main__":
    sys.exit(main())
