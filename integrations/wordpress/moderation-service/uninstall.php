<?php
/**
 * Removing the plugin: its settings and its cron event go. The service's answers kept with
 * each comment (the moderation_service_* comment meta) stay: they are the comments' history.
 *
 * @package ModerationService
 */

defined( 'WP_UNINSTALL_PLUGIN' ) || exit;

delete_option( 'moderation_service_settings' );
delete_option( 'moderation_service_last_webhook' );
delete_transient( 'moderation_service_recheck_lock' );
delete_transient( 'moderation_service_recheck_on_load' );
wp_clear_scheduled_hook( 'moderation_service_cron' );
