// Hand-written CloudTrail records for the browser tests, shaped like the real ones (the rules crate's
// base records in crates/trailguard-rules/src/rules/cloudtrail/base_records/). The shared real logs are
// years old, so these are dated in the last days: the overview's 30-day chart has something to draw.
//
// Two sets:
// - `recentActivity`: ordinary-looking risky calls, among them the CreatePolicyVersion that makes an
//   admin policy version the default (CT001, critical) which the tests open, copy, mute and screenshot.
// - `hostileRecords`: every string an attacker controls (user agent, user and role names, policy
//   ARN, policy document) carries markup or a `javascript:` URL whose only effect, if it ever ran or
//   became an element, is to set a `window.__pwned_*` marker the tests check stays undefined.

export const ACCOUNT = "111122223333";
export const CLEAN_PRINCIPAL = `arn:aws:iam::${ACCOUNT}:user/deploy-bot`;

export const MARKERS = ["__pwned_script", "__pwned_img", "__pwned_js", "__pwned_svg", "__pwned_href"];
export const HOSTILE = {
  script: "<script>window.__pwned_script=1</script>",
  img: '"><img src=x id=pwned-img onerror="window.__pwned_img=1">',
  jsUrl: "javascript:window.__pwned_js=1",
  svg: "<svg id=pwned-svg onload=window.__pwned_svg=1>",
  link: "'><a id=pwned-link href=javascript:window.__pwned_href=1>click</a>",
};
export const HOSTILE_PRINCIPAL = `arn:aws:iam::${ACCOUNT}:user/${HOSTILE.jsUrl}`;

const ADMIN_DOCUMENT = JSON.stringify(
  { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }] },
  null,
  2,
);

/// An RFC 3339 time `days` days and `minutes` minutes before `now`, to the second.
function ago(now, days, minutes = 0) {
  const t = new Date(now.getTime() - days * 86_400_000 - minutes * 60_000);
  return t.toISOString().replace(/\.\d{3}Z$/, "Z");
}

let serial = 0;
function ids() {
  serial += 1;
  const n = String(serial).padStart(12, "0");
  return { requestID: `7a1e0c42-0000-4000-8000-${n}`, eventID: `9b2f1d53-0000-4000-8000-${n}` };
}

function iamUserCall(now, { user, days, minutes, userAgent, eventName, eventSource, requestParameters, responseElements }) {
  return {
    eventVersion: "1.09",
    userIdentity: {
      type: "IAMUser",
      principalId: "AIDAQRSTUVWXYZEXAMPLE",
      arn: `arn:aws:iam::${ACCOUNT}:user/${user}`,
      accountId: ACCOUNT,
      accessKeyId: "AKIAQRSTUVWXEXAMPLE1",
      userName: user,
    },
    eventTime: ago(now, days, minutes),
    eventSource: eventSource ?? "iam.amazonaws.com",
    eventName,
    awsRegion: "us-east-1",
    sourceIPAddress: "198.51.100.77",
    userAgent: userAgent ?? "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64.ubuntu.22",
    requestParameters: requestParameters ?? null,
    responseElements: responseElements ?? null,
    ...ids(),
    readOnly: false,
    eventType: "AwsApiCall",
    managementEvent: true,
    recipientAccountId: ACCOUNT,
    eventCategory: "Management",
  };
}

function consoleLogin(now, { user, days, minutes, userAgent }) {
  return {
    eventVersion: "1.09",
    userIdentity: {
      type: "IAMUser",
      principalId: "AIDACKCEVSQ6C2EXAMPLE",
      accountId: ACCOUNT,
      accessKeyId: "",
      userName: user,
      arn: `arn:aws:iam::${ACCOUNT}:user/${user}`,
    },
    eventTime: ago(now, days, minutes),
    eventSource: "signin.amazonaws.com",
    eventName: "ConsoleLogin",
    awsRegion: "us-east-1",
    sourceIPAddress: "203.0.113.50",
    userAgent: userAgent ?? "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0",
    requestParameters: null,
    responseElements: { ConsoleLogin: "Success" },
    additionalEventData: { LoginTo: "https://console.aws.amazon.com/console/home", MobileVersion: "No", MFAUsed: "No" },
    ...ids(),
    readOnly: false,
    eventType: "AwsConsoleSignIn",
    managementEvent: true,
    recipientAccountId: ACCOUNT,
    eventCategory: "Management",
  };
}

export function recentActivity(now) {
  return [
    consoleLogin(now, { user: "anaya", days: 6, minutes: 40 }),
    iamUserCall(now, {
      user: "anaya", days: 5, minutes: 12, eventName: "CreateAccessKey",
      requestParameters: { userName: "build-runner" },
      responseElements: { accessKey: { accessKeyId: "AKIAQRSTUVWXEXAMPLE2", createDate: "Dec 1, 2026 9:14:02 AM", status: "Active", userName: "build-runner" } },
    }),
    iamUserCall(now, {
      user: "anaya", days: 4, minutes: 3, eventName: "AttachRolePolicy",
      requestParameters: { policyArn: "arn:aws:iam::aws:policy/AdministratorAccess", roleName: "ops-break-glass" },
    }),
    iamUserCall(now, {
      user: "deploy-bot", days: 2, minutes: 30, eventName: "CreatePolicyVersion",
      requestParameters: { policyArn: `arn:aws:iam::${ACCOUNT}:policy/ci-deploy`, policyDocument: ADMIN_DOCUMENT, setAsDefault: true },
      responseElements: { policyVersion: { createDate: "Dec 2, 2026 1:33:28 PM", isDefaultVersion: true, versionId: "v4" } },
    }),
    iamUserCall(now, {
      user: "deploy-bot", days: 1, minutes: 5, eventName: "StopLogging", eventSource: "cloudtrail.amazonaws.com",
      requestParameters: { name: "management-trail" },
    }),
  ];
}

export function hostileRecords(now) {
  const hostileDocument = JSON.stringify({
    Version: "2012-10-17",
    Statement: [{ Sid: `x${HOSTILE.img}`, Effect: "Allow", Action: "*", Resource: `*${HOSTILE.svg}` }],
  });
  const userAgent = `${HOSTILE.script} ${HOSTILE.jsUrl} ${HOSTILE.link}`;
  return [
    iamUserCall(now, {
      user: HOSTILE.jsUrl, days: 3, minutes: 1, userAgent, eventName: "CreatePolicyVersion",
      requestParameters: { policyArn: `arn:aws:iam::${ACCOUNT}:policy/ops${HOSTILE.img}`, policyDocument: hostileDocument, setAsDefault: true },
      responseElements: { policyVersion: { createDate: "Dec 1, 2026 10:00:00 AM", isDefaultVersion: true, versionId: "v2" } },
    }),
    iamUserCall(now, {
      user: HOSTILE.jsUrl, days: 3, minutes: 0, userAgent, eventName: "AttachRolePolicy",
      requestParameters: { policyArn: "arn:aws:iam::aws:policy/AdministratorAccess", roleName: `ops${HOSTILE.svg}${HOSTILE.link}` },
    }),
    consoleLogin(now, { user: `${HOSTILE.img}${HOSTILE.script}`, days: 3, minutes: 2, userAgent }),
  ];
}
