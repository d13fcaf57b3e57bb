{{/*
Chart name, for the app.kubernetes.io/name label.
*/}}
{{- define "fullon-ohlcv.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Base name of every resource: the release name unless overridden. Suffixes (-operator,
-collector, -metrics) are added to it, so it is cut to leave room for them.
*/}}
{{- define "fullon-ohlcv.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 42 | trimSuffix "-" }}
{{- end }}

{{- define "fullon-ohlcv.operatorName" -}}
{{- printf "%s-operator" (include "fullon-ohlcv.fullname" .) }}
{{- end }}

{{- define "fullon-ohlcv.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Standard labels of every resource.
*/}}
{{- define "fullon-ohlcv.labels" -}}
helm.sh/chart: {{ include "fullon-ohlcv.chart" . }}
app.kubernetes.io/name: {{ include "fullon-ohlcv.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: fullon
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels of the operator Pod (never change them: a Deployment's selector is immutable).
*/}}
{{- define "fullon-ohlcv.operatorSelectorLabels" -}}
app.kubernetes.io/name: {{ include "fullon-ohlcv.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "fullon-ohlcv.operatorLabels" -}}
{{ include "fullon-ohlcv.labels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{/*
Labels the operator puts on every collector Pod (the contract with ohlcv-operator); the
PodMonitor, the PodDisruptionBudget and the NetworkPolicy select collectors by them.
*/}}
{{- define "fullon-ohlcv.collectorSelectorLabels" -}}
app.kubernetes.io/name: fullon-ohlcv-collector
app.kubernetes.io/managed-by: ohlcv-operator
{{- end }}

{{- define "fullon-ohlcv.operatorServiceAccountName" -}}
{{- if .Values.operator.serviceAccount.create }}
{{- default (include "fullon-ohlcv.operatorName" .) .Values.operator.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.operator.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "fullon-ohlcv.collectorServiceAccountName" -}}
{{- if .Values.collector.serviceAccount.create }}
{{- default (printf "%s-collector" (include "fullon-ohlcv.fullname" .)) .Values.collector.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.collector.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
An image reference from repository, tag and digest; the digest wins.
Call with (dict "repository" ... "tag" ... "digest" ...).
*/}}
{{- define "fullon-ohlcv.imageRef" -}}
{{- if .digest }}
{{- printf "%s@%s" .repository .digest }}
{{- else }}
{{- printf "%s:%s" .repository .tag }}
{{- end }}
{{- end }}

{{- define "fullon-ohlcv.operatorImage" -}}
{{- include "fullon-ohlcv.imageRef" (dict "repository" .Values.image.repository "tag" (default .Chart.AppVersion .Values.image.tag) "digest" .Values.image.digest) }}
{{- end }}

{{/*
The collectors' image: the operator's unless collector.image names another. A digest of the
operator image is not inherited by a collector image with its own repository or tag.
*/}}
{{- define "fullon-ohlcv.collectorImage" -}}
{{- $c := .Values.collector.image }}
{{- $repository := default .Values.image.repository $c.repository }}
{{- $tag := default (default .Chart.AppVersion .Values.image.tag) $c.tag }}
{{- if $c.digest }}
{{- include "fullon-ohlcv.imageRef" (dict "repository" $repository "digest" $c.digest) }}
{{- else if or $c.repository $c.tag }}
{{- include "fullon-ohlcv.imageRef" (dict "repository" $repository "tag" $tag) }}
{{- else }}
{{- include "fullon-ohlcv.operatorImage" . }}
{{- end }}
{{- end }}

{{- define "fullon-ohlcv.collectorPullPolicy" -}}
{{- default .Values.image.pullPolicy .Values.collector.image.pullPolicy }}
{{- end }}

{{/*
imagePullSecrets in the usual [{name: ...}] form, from names or from such objects.
*/}}
{{- define "fullon-ohlcv.imagePullSecrets" -}}
{{- $secrets := list }}
{{- range .Values.imagePullSecrets }}
{{- if kindIs "string" . }}
{{- $secrets = append $secrets (dict "name" .) }}
{{- else }}
{{- $secrets = append $secrets (dict "name" .name) }}
{{- end }}
{{- end }}
{{- toJson $secrets }}
{{- end }}

{{/*
The collector Pods' defaults the operator applies (OHLCV_COLLECTOR_POD): an OhlcvCollector's
spec fields of the same names replace them, its podAnnotations and podLabels merge with them.
*/}}
{{- define "fullon-ohlcv.collectorPod" -}}
{{- $c := .Values.collector }}
{{- toJson (dict
  "imagePullSecrets" (include "fullon-ohlcv.imagePullSecrets" . | fromJsonArray)
  "affinity" $c.affinity
  "topologySpreadConstraints" $c.topologySpreadConstraints
  "priorityClassName" $c.priorityClassName
  "podAnnotations" $c.podAnnotations
  "podLabels" $c.podLabels) }}
{{- end }}

{{/*
How a Pod reaches the database and Redis, as JSON {envFrom, env, volumes, volumeMounts}: the
operator's container uses it, and the operator gives it to every collector Pod
(OHLCV_COLLECTOR_CONNECTION), so both read the Secrets the same way. A Secret with the
DB_* / REDIS_* keys is loaded whole; with secretKeys, each setting comes from its own key.
DB_REQUIRED makes a Secret without the database settings an error instead of SQLite.
*/}}
{{- define "fullon-ohlcv.connection" -}}
{{- $envFrom := list }}
{{- $env := list (dict "name" "DB_REQUIRED" "value" "true") }}
{{- $volumes := list }}
{{- $mounts := list }}
{{- $db := .Values.database }}
{{- $dbNames := dict "host" "DB_HOST" "port" "DB_PORT" "user" "DB_USER" "password" "DB_PASSWORD" "name" "DB_NAME" "ohlcvName" "DB_OHLCV_NAME" "uri" "DB_URI" }}
{{- if $db.secretKeys }}
{{- range $setting, $key := $db.secretKeys }}
{{- $env = append $env (dict "name" (get $dbNames $setting) "valueFrom" (dict "secretKeyRef" (dict "name" $db.secretName "key" $key))) }}
{{- end }}
{{- else }}
{{- $envFrom = append $envFrom (dict "secretRef" (dict "name" $db.secretName)) }}
{{- end }}
{{- with $db.ohlcvName }}
{{- $env = append $env (dict "name" "DB_OHLCV_NAME" "value" .) }}
{{- end }}
{{- with $db.tls.sslMode }}
{{- $env = append $env (dict "name" "DB_SSLMODE" "value" .) }}
{{- end }}
{{- with $db.tls.caSecretName }}
{{- $volumes = append $volumes (dict "name" "postgres-ca" "secret" (dict "secretName" . "items" (list (dict "key" $db.tls.caKey "path" "ca.crt")))) }}
{{- $mounts = append $mounts (dict "name" "postgres-ca" "mountPath" "/etc/fullon/tls/postgres" "readOnly" true) }}
{{- $env = append $env (dict "name" "DB_SSLROOTCERT" "value" "/etc/fullon/tls/postgres/ca.crt") }}
{{- end }}
{{- $redis := .Values.redis }}
{{- if $redis.secretName }}
{{- $redisNames := dict "host" "REDIS_HOST" "port" "REDIS_PORT" "username" "REDIS_USERNAME" "password" "REDIS_PASSWORD" "db" "REDIS_DB" }}
{{- if $redis.secretKeys }}
{{- range $setting, $key := $redis.secretKeys }}
{{- $env = append $env (dict "name" (get $redisNames $setting) "valueFrom" (dict "secretKeyRef" (dict "name" $redis.secretName "key" $key "optional" true))) }}
{{- end }}
{{- else }}
{{- $envFrom = append $envFrom (dict "secretRef" (dict "name" $redis.secretName "optional" true)) }}
{{- end }}
{{- if $redis.tls.enabled }}
{{- $env = append $env (dict "name" "REDIS_SSL" "value" "true") }}
{{- with $redis.tls.caSecretName }}
{{- $volumes = append $volumes (dict "name" "redis-ca" "secret" (dict "secretName" . "items" (list (dict "key" $redis.tls.caKey "path" "ca.crt")))) }}
{{- $mounts = append $mounts (dict "name" "redis-ca" "mountPath" "/etc/fullon/tls/redis" "readOnly" true) }}
{{- $env = append $env (dict "name" "REDIS_SSL_CA_CERTS" "value" "/etc/fullon/tls/redis/ca.crt") }}
{{- end }}
{{- end }}
{{- end }}
{{- toJson (dict "envFrom" $envFrom "env" $env "volumes" $volumes "volumeMounts" $mounts) }}
{{- end }}

{{/*
Every autoscaled exchange's settings, as JSON {name: settings}: autoscaling.defaults with the
exchange's own keys over them, key by key (a 0 or false set for one exchange wins, which
Sprig's merge would drop), keda one level down.
*/}}
{{- define "fullon-ohlcv.autoscalers" -}}
{{- $defaults := .Values.autoscaling.defaults }}
{{- $all := dict }}
{{- range $name, $own := .Values.autoscaling.exchanges }}
{{- $own = $own | default dict }}
{{- $scaler := dict }}
{{- range $key, $value := $defaults }}
{{- $_ := set $scaler $key (hasKey $own $key | ternary (get $own $key) $value) }}
{{- end }}
{{- $ownKeda := get $own "keda" | default dict }}
{{- $keda := dict }}
{{- range $key, $value := $defaults.keda }}
{{- $_ := set $keda $key (hasKey $ownKeda $key | ternary (get $ownKeda $key) $value) }}
{{- end }}
{{- $_ := set $scaler "keda" $keda }}
{{- $_ := set $scaler "exchange" (default $name $scaler.exchange) }}
{{- $_ := set $all $name $scaler }}
{{- end }}
{{- toJson $all }}
{{- end }}

{{/*
Checks that values.schema.json cannot express.
*/}}
{{- define "fullon-ohlcv.validate" -}}
{{- range $name, $a := include "fullon-ohlcv.autoscalers" . | fromJson }}
{{- if gt (int $a.minReplicas) (int $a.maxReplicas) }}
{{- fail (printf "autoscaling of %s: minReplicas (%d) must not exceed maxReplicas (%d)" $name (int $a.minReplicas) (int $a.maxReplicas)) }}
{{- end }}
{{- if not (or $a.cpuUtilization $a.symbolsPerReplica $a.lagSeconds $a.metrics) }}
{{- fail (printf "autoscaling of %s: nothing to scale on; set cpuUtilization, symbolsPerReplica, lagSeconds or metrics" $name) }}
{{- end }}
{{- if and $a.keda.enabled (or $a.symbolsPerReplica $a.lagSeconds) (not $a.keda.serverAddress) }}
{{- fail (printf "autoscaling of %s: keda.serverAddress (the Prometheus KEDA queries) is needed for symbolsPerReplica and lagSeconds" $name) }}
{{- end }}
{{- if and $a.keda.enabled $a.metrics }}
{{- fail (printf "autoscaling of %s: metrics are HPA MetricSpecs; with keda.enabled use cpuUtilization, symbolsPerReplica or lagSeconds" $name) }}
{{- end }}
{{- end }}
{{- end }}
