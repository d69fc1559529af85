//! End-to-end encryption's keys (`devices`, `room_epochs`, `epoch_keys`):
//! public device records and room keys wrapped for devices, nothing the
//! server could decrypt with (see `app::e2e`).

use super::{SqliteStore, StoreError, now_ms};
use crate::store::rows::backup_rooms;
use crate::store::rows::{
    AccountDeviceRow, DeviceRow, EpochKeyRow, account_device, epoch_key, key_requests,
    member_device,
};
use crate::store::{AccountDevice, BackedUp, DevicePublished, DeviceUse, EpochMade, RemovedDevice};
use app::e2e::{BackedUpKey, DeviceId, DeviceKeys, KeyBackup, NewEpoch, RoomKeys};
use app::rooms::RoomName;

impl SqliteStore {
    pub async fn publish_device(
        &self,
        account: i64,
        keys: &DeviceKeys,
        used: &DeviceUse,
    ) -> Result<DevicePublished, StoreError> {
        let mut tx = self.write().await?;
        let existing: Option<(i64, String, String, String)> = sqlx::query_as(
            "SELECT account_id, agree, sign, signature FROM devices WHERE device_id = ?1",
        )
        .bind(keys.id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((owner, agree, sign, signature)) = existing {
            let same = owner == account
                && agree == keys.agree
                && sign == keys.sign
                && signature == keys.signature;
            if !same {
                return Ok(DevicePublished::Taken);
            }
            sqlx::query(
                "UPDATE devices SET browser = ?1, seen_at = ?2, session = ?3 WHERE device_id = ?4",
            )
            .bind(&used.browser)
            .bind(now_ms())
            .bind(&used.session)
            .bind(keys.id.as_str())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(DevicePublished::Known);
        }
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM devices WHERE account_id = ?1")
            .bind(account)
            .fetch_one(&mut *tx)
            .await?;
        if count >= app::e2e::DEVICES_PER_ACCOUNT as i64 {
            return Ok(DevicePublished::TooMany);
        }
        sqlx::query(
            "INSERT INTO devices
               (account_id, device_id, agree, sign, signature, created_at, seen_at, browser, session)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8)",
        )
        .bind(account)
        .bind(keys.id.as_str())
        .bind(&keys.agree)
        .bind(&keys.sign)
        .bind(&keys.signature)
        .bind(now_ms())
        .bind(&used.browser)
        .bind(&used.session)
        .execute(&mut *tx)
        .await?;
        // A new device reads what is said from now on: every conversation
        // of the account is due a new epoch that is wrapped for it too.
        let rooms = new_epochs_due(&mut tx, account).await?;
        tx.commit().await?;
        Ok(DevicePublished::Added(rooms))
    }

    /// `account`'s devices, the newest first.
    pub async fn account_devices(&self, account: i64) -> Result<Vec<AccountDevice>, StoreError> {
        let rows: Vec<AccountDeviceRow> = sqlx::query_as(
            "SELECT device_id, browser, created_at, seen_at, session FROM devices
             WHERE account_id = ?1 ORDER BY created_at DESC, id DESC",
        )
        .bind(account)
        .fetch_all(&self.readers)
        .await?;
        Ok(rows.into_iter().filter_map(account_device).collect())
    }

    /// Takes `device` away from `account`: the keys wrapped for it go with
    /// it, and every conversation of the account is due a new epoch that
    /// leaves it out. `None` if it is not one of the account's.
    pub async fn remove_device(
        &self,
        account: i64,
        device: &DeviceId,
    ) -> Result<Option<RemovedDevice>, StoreError> {
        let mut tx = self.write().await?;
        let session: Option<Option<String>> = sqlx::query_scalar(
            "DELETE FROM devices WHERE account_id = ?1 AND device_id = ?2 RETURNING session",
        )
        .bind(account)
        .bind(device.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(session) = session else {
            return Ok(None);
        };
        let rooms = new_epochs_due(&mut tx, account).await?;
        tx.commit().await?;
        Ok(Some(RemovedDevice { session, rooms }))
    }

    /// `room`'s keys for `device`, if it is one of `account`'s.
    pub async fn room_keys(
        &self,
        room: &RoomName,
        account: i64,
        device: &DeviceId,
    ) -> Result<Option<RoomKeys>, StoreError> {
        let found: Option<(i64, i64, i64)> = sqlx::query_as(
            "SELECT r.id, r.key_epoch, d.id FROM rooms r, devices d
             WHERE r.name = ?1 AND d.device_id = ?2 AND d.account_id = ?3",
        )
        .bind(room.as_str())
        .bind(device.as_str())
        .bind(account)
        .fetch_optional(&self.readers)
        .await?;
        let Some((room_id, current, device_row)) = found else {
            return Ok(None);
        };
        let latest: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(epoch), 0) FROM room_epochs WHERE room_id = ?1",
        )
        .bind(room_id)
        .fetch_one(&self.readers)
        .await?;
        let devices: Vec<DeviceRow> = sqlx::query_as(
            "SELECT a.name, d.device_id, d.agree, d.sign, d.signature
             FROM private_members m JOIN accounts a ON a.id = m.account_id
             JOIN devices d ON d.account_id = m.account_id
             WHERE m.room_id = ?1 ORDER BY a.name, d.id",
        )
        .bind(room_id)
        .fetch_all(&self.readers)
        .await?;
        let keys: Vec<EpochKeyRow> = sqlx::query_as(
            "SELECT e.epoch, COALESCE(k.by_account, e.from_account),
                    COALESCE(k.by_device, e.from_device), COALESCE(k.by_agree, e.from_agree),
                    COALESCE(k.by_sign, e.from_sign), COALESCE(k.by_signature, e.from_signature),
                    k.iv, k.wrapped
                 FROM epoch_keys k
                 JOIN room_epochs e ON e.room_id = k.room_id AND e.epoch = k.epoch
                 WHERE k.device = ?1 AND k.room_id = ?2 ORDER BY e.epoch",
        )
        .bind(device_row)
        .bind(room_id)
        .fetch_all(&self.readers)
        .await?;
        let keys = keys
            .into_iter()
            .filter_map(|row| epoch_key(row, device))
            .collect();
        // The account's other devices, and the epochs this one holds that
        // they do not.
        let lacking: Vec<(String, String, String, String, String, i64)> = sqlx::query_as(
            "SELECT a.name, d.device_id, d.agree, d.sign, d.signature, mine.epoch
             FROM devices d JOIN accounts a ON a.id = d.account_id
             JOIN epoch_keys mine ON mine.device = ?1 AND mine.room_id = ?2
             WHERE d.account_id = ?3 AND d.id <> ?1
               AND NOT EXISTS (SELECT 1 FROM epoch_keys k
                               WHERE k.device = d.id AND k.room_id = ?2 AND k.epoch = mine.epoch)
             ORDER BY d.id, mine.epoch",
        )
        .bind(device_row)
        .bind(room_id)
        .bind(account)
        .fetch_all(&self.readers)
        .await?;
        Ok(Some(RoomKeys {
            current: u32::try_from(current).unwrap_or(0),
            latest: u32::try_from(latest).unwrap_or(0),
            devices: devices.into_iter().filter_map(member_device).collect(),
            keys,
            share: key_requests(lacking),
        }))
    }

    /// Stores epoch keys one of `account`'s devices wrapped for another of
    /// its devices: how many were new; `None` if either is not the
    /// account's, or it is not in the room.
    pub async fn share_keys(
        &self,
        account: i64,
        shared: &app::e2e::SharedKeys,
    ) -> Result<Option<u64>, StoreError> {
        let mut tx = self.write().await?;
        let found: Option<(i64, i64, String, String, String, String)> = sqlx::query_as(
            "SELECT r.id, t.id, a.name, b.agree, b.sign, b.signature
             FROM rooms r JOIN private_members m ON m.room_id = r.id AND m.account_id = ?1
             JOIN accounts a ON a.id = ?1
             JOIN devices b ON b.device_id = ?3 AND b.account_id = ?1
             JOIN devices t ON t.device_id = ?4 AND t.account_id = ?1
             WHERE r.name = ?2",
        )
        .bind(account)
        .bind(shared.room.as_str())
        .bind(shared.device.as_str())
        .bind(shared.to.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some((room_id, to, name, agree, sign, signature)) = found else {
            return Ok(None);
        };
        let mut stored = 0;
        for (epoch, wrap) in &shared.keys {
            if !wrap.well_formed() {
                continue;
            }
            stored += sqlx::query(
                "INSERT INTO epoch_keys (room_id, epoch, device, iv, wrapped, by_account,
                                         by_device, by_agree, by_sign, by_signature)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10
                 WHERE EXISTS (SELECT 1 FROM room_epochs WHERE room_id = ?1 AND epoch = ?2)
                 ON CONFLICT DO NOTHING",
            )
            .bind(room_id)
            .bind(i64::from(*epoch))
            .bind(to)
            .bind(&wrap.iv)
            .bind(&wrap.key)
            .bind(&name)
            .bind(shared.device.as_str())
            .bind(&agree)
            .bind(&sign)
            .bind(&signature)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(Some(stored))
    }

    /// Stores a new epoch made by `account`'s device: it must be the next
    /// one, and wrapped for exactly the members' devices now.
    pub async fn new_epoch(&self, account: i64, epoch: &NewEpoch) -> Result<EpochMade, StoreError> {
        let mut tx = self.write().await?;
        let room_id: Option<i64> = sqlx::query_scalar(
            "SELECT r.id FROM rooms r JOIN private_members m ON m.room_id = r.id
             WHERE r.name = ?1 AND m.account_id = ?2",
        )
        .bind(epoch.room.as_str())
        .bind(account)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(room_id) = room_id else {
            return Ok(EpochMade::NotMember);
        };
        let maker: Option<(String, String, String, String)> = sqlx::query_as(
            "SELECT a.name, d.agree, d.sign, d.signature FROM devices d
             JOIN accounts a ON a.id = d.account_id
             WHERE d.device_id = ?1 AND d.account_id = ?2",
        )
        .bind(epoch.device.as_str())
        .bind(account)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((name, agree, sign, signature)) = maker else {
            return Ok(EpochMade::NotMember);
        };
        let latest: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(epoch), 0) FROM room_epochs WHERE room_id = ?1",
        )
        .bind(room_id)
        .fetch_one(&mut *tx)
        .await?;
        if i64::from(epoch.epoch) != latest + 1 {
            return Ok(EpochMade::Conflict);
        }
        let devices: Vec<(i64, String)> = sqlx::query_as(
            "SELECT d.id, d.device_id FROM private_members m
             JOIN devices d ON d.account_id = m.account_id WHERE m.room_id = ?1",
        )
        .bind(room_id)
        .fetch_all(&mut *tx)
        .await?;
        let mut wrapped: Vec<&str> = epoch.wraps.iter().map(|w| w.device.as_str()).collect();
        let mut due: Vec<&str> = devices.iter().map(|(_, id)| id.as_str()).collect();
        wrapped.sort_unstable();
        due.sort_unstable();
        if wrapped != due || epoch.wraps.iter().any(|w| !w.well_formed()) {
            return Ok(EpochMade::Conflict);
        }
        sqlx::query(
            "INSERT INTO room_epochs (room_id, epoch, from_account, from_device, from_agree,
                                      from_sign, from_signature, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .bind(room_id)
        .bind(i64::from(epoch.epoch))
        .bind(&name)
        .bind(epoch.device.as_str())
        .bind(&agree)
        .bind(&sign)
        .bind(&signature)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        for wrap in &epoch.wraps {
            let row = devices
                .iter()
                .find(|(_, id)| id == wrap.device.as_str())
                .map(|(row, _)| *row);
            sqlx::query(
                "INSERT INTO epoch_keys (room_id, epoch, device, iv, wrapped)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .bind(room_id)
            .bind(i64::from(epoch.epoch))
            .bind(row)
            .bind(&wrap.iv)
            .bind(&wrap.key)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE rooms SET key_epoch = ?1 WHERE id = ?2")
            .bind(i64::from(epoch.epoch))
            .bind(room_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(EpochMade::Done)
    }

    /// Starts `account`'s key backup afresh: the keys sealed with an older
    /// passphrase's key could not be opened with the new one.
    pub async fn start_key_backup(
        &self,
        account: i64,
        salt: &str,
        check: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM backup_keys WHERE account_id = ?1")
            .bind(account)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM key_backups WHERE account_id = ?1")
            .bind(account)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO key_backups (account_id, salt, checked, created_at)
             VALUES (?1, ?2, ?3, ?4)",
        )
        .bind(account)
        .bind(salt)
        .bind(check)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn back_up_keys(
        &self,
        account: i64,
        room: &RoomName,
        keys: &[BackedUpKey],
    ) -> Result<BackedUp, StoreError> {
        let mut tx = self.write().await?;
        let has_backup: Option<i64> =
            sqlx::query_scalar("SELECT account_id FROM key_backups WHERE account_id = ?1")
                .bind(account)
                .fetch_optional(&mut *tx)
                .await?;
        if has_backup.is_none() {
            return Ok(BackedUp::NoBackup);
        }
        let room_id: Option<i64> = sqlx::query_scalar(
            "SELECT r.id FROM rooms r JOIN private_members m ON m.room_id = r.id
             WHERE r.name = ?1 AND m.account_id = ?2",
        )
        .bind(room.as_str())
        .bind(account)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(room_id) = room_id else {
            return Ok(BackedUp::NotMember);
        };
        for key in keys {
            sqlx::query(
                "INSERT INTO backup_keys (account_id, room_id, epoch, iv, sealed)
                 SELECT ?1, ?2, ?3, ?4, ?5
                 WHERE EXISTS (SELECT 1 FROM room_epochs WHERE room_id = ?2 AND epoch = ?3)
                 ON CONFLICT DO NOTHING",
            )
            .bind(account)
            .bind(room_id)
            .bind(i64::from(key.0))
            .bind(&key.1)
            .bind(&key.2)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(BackedUp::Done)
    }

    pub async fn key_backup(&self, account: i64) -> Result<Option<KeyBackup>, StoreError> {
        let backup: Option<(String, String)> =
            sqlx::query_as("SELECT salt, checked FROM key_backups WHERE account_id = ?1")
                .bind(account)
                .fetch_optional(&self.readers)
                .await?;
        let Some((salt, check)) = backup else {
            return Ok(None);
        };
        // Only the rooms the account is still in: one it left or was taken
        // out of keeps nothing to read with.
        let rows: Vec<(String, i64, String, String)> = sqlx::query_as(
            "SELECT r.name, b.epoch, b.iv, b.sealed FROM backup_keys b
             JOIN rooms r ON r.id = b.room_id
             JOIN private_members m ON m.room_id = b.room_id AND m.account_id = b.account_id
             WHERE b.account_id = ?1
             ORDER BY r.name, b.epoch",
        )
        .bind(account)
        .fetch_all(&self.readers)
        .await?;
        Ok(Some(KeyBackup(salt, check, backup_rooms(rows))))
    }
}

/// Marks every encrypted conversation of `account` due a new epoch (one of
/// its devices came or went); their names.
async fn new_epochs_due(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    account: i64,
) -> Result<Vec<RoomName>, StoreError> {
    let rooms: Vec<String> = sqlx::query_scalar(
        "UPDATE rooms SET key_epoch = 0
         WHERE id IN (SELECT room_id FROM private_members WHERE account_id = ?1)
         RETURNING name",
    )
    .bind(account)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rooms
        .iter()
        .filter_map(|r| RoomName::parse(r).ok())
        .collect())
}
